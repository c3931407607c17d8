// Owns: the RFC 6455 §4 client handshake of ringbolt-ws-load (see ws_handshake.hpp). SHA-1
// and base64 are the server's own (core/sha1.hpp), compiled in from the tree.
#include "ws_handshake.hpp"

#include "core/sha1.hpp"
#include "core/strings.hpp"

#include <array>
#include <cstring>
#include <string_view>

namespace ringbolt_load {

namespace {

constexpr size_t max_head = 16 * 1024;
constexpr const char* ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; // RFC 6455 §1.3

} // namespace

std::string ws_make_key(uint64_t random_hi, uint64_t random_lo) {
    uint8_t raw[16];
    for (int i = 0; i < 8; ++i) {
        raw[i] = static_cast<uint8_t>(random_hi >> (8 * i));
        raw[8 + i] = static_cast<uint8_t>(random_lo >> (8 * i));
    }
    return ringbolt::core::base64_encode(raw, sizeof raw);
}

std::string ws_accept_for(const std::string& key) {
    std::array<uint8_t, 20> digest = ringbolt::core::sha1(key + ws_guid);
    return ringbolt::core::base64_encode(digest.data(), digest.size());
}

std::string ws_upgrade_request(const std::string& path, const std::string& host_header, const std::string& key) {
    std::string r;
    r.reserve(256);
    r += "GET ";
    r += path;
    r += " HTTP/1.1\r\nHost: ";
    r += host_header;
    r += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
    r += key;
    r += "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    return r;
}

ws_handshake_result ws_check_response(const char* data, size_t len, const std::string& expected_accept,
                                      size_t* head_len) {
    std::string_view all(data, len);
    size_t end = all.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        return len > max_head ? ws_handshake_result::too_long : ws_handshake_result::incomplete;
    }
    *head_len = end + 4;
    std::string_view head = all.substr(0, end + 2); // every line ends with CRLF
    size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    // RFC 6455 §4.1: "If the status code received from the server is not 101, the client
    // handles the response per HTTP procedures" — for a load generator, a failure
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line.substr(8, 4) != " 101") {
        return ws_handshake_result::bad_status;
    }
    bool upgrade = false;
    bool connection = false;
    bool accept = false;
    size_t pos = eol + 2;
    while (pos < head.size()) {
        size_t next = head.find("\r\n", pos);
        std::string_view line = head.substr(pos, next - pos);
        pos = next + 2;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            return ws_handshake_result::bad_header;
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = ringbolt::core::trim_ows(line.substr(colon + 1));
        if (ringbolt::core::iequals(name, "upgrade")) {
            upgrade = ringbolt::core::iequals(value, "websocket");
        } else if (ringbolt::core::iequals(name, "connection")) {
            connection = connection || ringbolt::core::lists_token(value, "upgrade");
        } else if (ringbolt::core::iequals(name, "sec-websocket-accept")) {
            accept = value == expected_accept;
        } else if (ringbolt::core::iequals(name, "sec-websocket-extensions") && !value.empty()) {
            return ws_handshake_result::bad_header; // §4.1: an extension the client did not ask for
        }
    }
    if (!accept) {
        return ws_handshake_result::bad_accept;
    }
    return upgrade && connection ? ws_handshake_result::ok : ws_handshake_result::bad_header;
}

const char* ws_handshake_error_name(ws_handshake_result r) noexcept {
    switch (r) {
    case ws_handshake_result::incomplete:
        return "incomplete";
    case ws_handshake_result::ok:
        return "ok";
    case ws_handshake_result::bad_status:
        return "status not 101";
    case ws_handshake_result::bad_accept:
        return "wrong Sec-WebSocket-Accept";
    case ws_handshake_result::bad_header:
        return "bad Upgrade/Connection/extension header";
    case ws_handshake_result::too_long:
        return "response head too long";
    }
    return "?";
}

} // namespace ringbolt_load
