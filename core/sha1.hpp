// SHA-1 (FIPS 180-4) for the WebSocket handshake only (SHA-1 is not used for anything where
// collisions matter), and base64 (RFC 4648): the standard alphabet for that handshake,
// base64url for HTTP2-Settings (h2/) and signed values (tls/signed_value).
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

/// base64url (RFC 4648 §5) without padding, appended to `out`.
void append_base64url(std::string& out, std::string_view data);

/// base64url without padding into `out`, which has room for (len * 4 + 2) / 3 characters;
/// returns how many it wrote (no allocation: a MAC's text on the stack).
size_t base64url_encode(const uint8_t* data, size_t len, char* out) noexcept;

/// base64url decoded and appended to `out`; false on a character outside the alphabet.
/// `strict`: no padding, a length that is not 1 mod 4, and the unused low bits of the last
/// character zero (so each byte string has one encoding). Not strict: decoding stops at
/// the first `=`, and leftover bits are dropped (what HTTP2-Settings has always taken).
[[nodiscard]] bool base64url_decode(std::string_view text, std::string& out, bool strict);

} // namespace ringbolt::core
