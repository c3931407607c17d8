// Owns: the RFC 6455 §4 client handshake of ringbolt-ws-load (see ws_handshake.hpp),
// with the SHA-1 (FIPS 180-4) and base64 (RFC 4648) it needs.
#include "ws_handshake.hpp"

#include <array>
#include <cstring>
#include <string_view>
#include <strings.h>

namespace ringbolt_load {

namespace {

constexpr size_t max_head = 16 * 1024;
constexpr const char* ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; // RFC 6455 §1.3

uint32_t rotl(uint32_t x, int n) noexcept {
    return (x << n) | (x >> (32 - n));
}

std::array<uint8_t, 20> sha1(const std::string& msg) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    std::string m = msg;
    uint64_t bits = static_cast<uint64_t>(msg.size()) * 8;
    m += static_cast<char>(0x80);
    while (m.size() % 64 != 56) {
        m += '\0';
    }
    for (int shift = 56; shift >= 0; shift -= 8) {
        m += static_cast<char>(bits >> shift);
    }
    for (size_t block = 0; block < m.size(); block += 64) {
        uint32_t w[80];
        for (int t = 0; t < 16; ++t) {
            const auto* p = reinterpret_cast<const uint8_t*>(m.data() + block + 4 * t);
            w[t] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
        }
        for (int t = 16; t < 80; ++t) {
            w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int t = 0; t < 80; ++t) {
            uint32_t f = 0;
            uint32_t k = 0;
            if (t < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (t < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (t < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            uint32_t tmp = rotl(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = rotl(b, 30);
            b = a;
            a = tmp;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
    }
    std::array<uint8_t, 20> out{};
    for (int i = 0; i < 5; ++i) {
        out[4 * i] = static_cast<uint8_t>(h[i] >> 24);
        out[4 * i + 1] = static_cast<uint8_t>(h[i] >> 16);
        out[4 * i + 2] = static_cast<uint8_t>(h[i] >> 8);
        out[4 * i + 3] = static_cast<uint8_t>(h[i]);
    }
    return out;
}

std::string base64(const uint8_t* p, size_t n) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = uint32_t{p[i]} << 16;
        if (i + 1 < n) {
            v |= uint32_t{p[i + 1]} << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out += i + 2 < n ? alphabet[v & 63] : '=';
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Does the comma-separated list hold token (case-insensitive)? Connection: keep-alive, Upgrade
bool has_token(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = trim(list.substr(0, comma));
        if (iequals(item, token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
    return false;
}

} // namespace

std::string ws_make_key(uint64_t random_hi, uint64_t random_lo) {
    uint8_t raw[16];
    for (int i = 0; i < 8; ++i) {
        raw[i] = static_cast<uint8_t>(random_hi >> (8 * i));
        raw[8 + i] = static_cast<uint8_t>(random_lo >> (8 * i));
    }
    return base64(raw, sizeof raw);
}

std::string ws_accept_for(const std::string& key) {
    std::array<uint8_t, 20> digest = sha1(key + ws_guid);
    return base64(digest.data(), digest.size());
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
        std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "upgrade")) {
            upgrade = iequals(value, "websocket");
        } else if (iequals(name, "connection")) {
            connection = connection || has_token(value, "upgrade");
        } else if (iequals(name, "sec-websocket-accept")) {
            accept = value == expected_accept;
        } else if (iequals(name, "sec-websocket-extensions") && !value.empty()) {
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
