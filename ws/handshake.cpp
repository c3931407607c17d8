// The server's computations in the opening handshake (RFC 6455 §4.2): the check of a
// client's Sec-WebSocket-Key and the derivation of Sec-WebSocket-Accept from it.
#include "ws/handshake.hpp"

#include "core/sha1.hpp"

namespace ringbolt::ws {

bool valid_key(std::string_view key) noexcept {
    // §4.1 item 7 / §4.2.1 item 5: a base64-encoded 16-byte value, which is always 24
    // characters ending in "==".
    return key.size() == 24 && core::base64_decoded_length(key) == 16;
}

std::string accept_value(std::string_view key) {
    // §4.2.2 item 5.4: the GUID is fixed by the RFC.
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string joined;
    joined.reserve(key.size() + guid.size());
    joined.append(key);
    joined.append(guid);
    auto digest = core::sha1(joined);
    return core::base64_encode(digest.data(), digest.size());
}

} // namespace ringbolt::ws
