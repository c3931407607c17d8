// What the WebSocket tests of every host share: a client's frames as the tests write them
// (RFC 6455 §5.2-5.3: masked, any length, optionally with RSV1, a compressed message) and a
// route that takes WebSockets. The HTTP/1.1 connection's tests and the HTTP/2 stream's
// (RFC 8441) feed the same session these bytes.
#pragma once

#include "dispatch/app_routes.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringbolt::test_support {

/// A masked client frame.
inline std::string client_frame(uint8_t op, std::string_view payload, bool fin = true, bool rsv1 = false) {
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op));
    size_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(0x80 | n));
    } else if (n <= 0xFFFF) {
        f.push_back(static_cast<char>(0x80 | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xFF));
    } else {
        f.push_back(static_cast<char>(0x80 | 127));
        for (int i = 7; i >= 0; --i) {
            f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xFF));
        }
    }
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(reinterpret_cast<const char*>(mask), 4);
    for (size_t i = 0; i < n; ++i) {
        f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    }
    return f;
}

/// `path` served by a Python WebSocket handler only (what `@app.websocket` makes).
inline void add_websocket_route(dispatch::app_routes& routes, std::string_view path) {
    EXPECT_EQ(routes.table.add(path, http::method_get, routes.targets.size()), "");
    dispatch::route_target t;
    t.kind = dispatch::target_kind::python;
    t.websocket = true;
    t.websocket_only = true;
    routes.targets.push_back(t);
}

} // namespace ringbolt::test_support
