// The opening handshake's pieces the server computes (RFC 6455 §4.2): checking a
// client's Sec-WebSocket-Key and deriving Sec-WebSocket-Accept from it.
#pragma once

#include <string>
#include <string_view>

namespace ringbolt::ws {

/// A Sec-WebSocket-Key is the base64 encoding of 16 bytes (24 characters, `==` padded;
/// §4.1 item 7). Surrounding whitespace is not part of it (the parser trims values).
bool valid_key(std::string_view key) noexcept;

/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) (§4.2.2 item 5.4): 28 characters.
std::string accept_value(std::string_view key);

} // namespace ringbolt::ws
