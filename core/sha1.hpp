// SHA-1 (FIPS 180-4) and base64 (RFC 4648 §4), for the WebSocket handshake only: SHA-1
// is not used for anything where collisions matter.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringbolt::core {

std::array<uint8_t, 20> sha1(std::string_view data) noexcept;

/// Standard alphabet, `=` padded.
std::string base64_encode(const uint8_t* data, size_t len);

/// Decoded length of a padded standard base64 string, or -1 when it is not one.
long base64_decoded_length(std::string_view text) noexcept;

} // namespace ringbolt::core
