// What the WebSocket tests of every host share: a client's frames as the tests write them
// (RFC 6455 §5.2-5.3: masked, any length, optionally with RSV1, a compressed message), a
// server's as they are on the wire, an app channel that records what it hears, and a route
// that takes WebSockets. The HTTP/1.1 connection's tests and the HTTP/2 and HTTP/3
// streams' (RFC 8441, RFC 9220) feed the same session these bytes.
#pragma once

#include "dispatch/app_routes.hpp"
#include "dispatch/dispatcher.hpp"
#include "http/app_message.hpp"
#include "tests/support/counting_ws_channel.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

/// A server frame as it is on the wire (unmasked).
inline std::string server_frame(uint8_t op, std::string_view payload) {
    std::string f;
    f.push_back(static_cast<char>(0x80 | op));
    uint64_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(n));
    } else { // RFC 6455 §5.2: 126 and a 16-bit length, or 127 and a 64-bit one
        int bytes = n <= 0xFFFF ? 2 : 8;
        f.push_back(static_cast<char>(bytes == 2 ? 126 : 127));
        for (int i = bytes - 1; i >= 0; --i) {
            f.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
        }
    }
    f.append(payload);
    return f;
}

/// A close frame's payload: its code.
inline std::string close_payload(uint16_t code) {
    return {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
}

/// An app channel that keeps the messages it is given and the close code it heard.
struct recording_channel final : counting_ws_channel {
    std::vector<std::pair<ws::opcode, std::string>> messages;
    uint16_t code = 0;
    void on_message(ws::opcode op, std::string&& p) noexcept override {
        delivered += p.size();
        messages.emplace_back(op, std::move(p));
    }
    void on_closed(uint16_t c, std::string_view) noexcept override {
        ++closed;
        code = c;
    }
};

/// The app's accept of the one handshake in `d`'s batch, as ws_accept makes it: a 101
/// carrying the upgrade to a session for `chan`. The batch is emptied; its request is
/// checked to be a WebSocket handshake of HTTP `version` on stream `id`.
inline http::app_response accept_handshake(dispatch::request_dispatcher& d, uint64_t id, uint8_t version,
                                           std::shared_ptr<ws::app_channel> chan, const ws::settings& cfg) {
    EXPECT_EQ(d.batch().size(), 1u);
    http::app_response m;
    if (!d.batch().empty()) {
        const dispatch::app_request& req = d.batch().front();
        EXPECT_TRUE(req.websocket);
        EXPECT_EQ(req.version_minor, version);
        EXPECT_EQ(req.seq, id);
        d.batch().clear();
    }
    m.seq = id;
    m.parts = http::app_response::part_head;
    m.start.status = 101;
    m.start.fields = "X-Room: a\r\n";
    m.rare().upgrade = std::make_shared<ws::upgrade>(std::move(chan), cfg);
    return m;
}

/// An accepted WebSocket's app message on stream `id`.
inline http::app_response app_message(uint64_t id, ws::opcode op, std::string body) {
    http::app_response m;
    m.seq = id;
    m.parts = http::app_response::part_message;
    m.opcode = static_cast<uint8_t>(op);
    m.body = std::move(body);
    return m;
}

/// The app's whole answer on stream `id`: head, body and end in one message.
inline http::app_response whole_answer(uint64_t id, uint16_t status, std::string body) {
    http::app_response m;
    m.seq = id;
    m.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
    m.start.status = status;
    m.body = std::move(body);
    return m;
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

/// The app's side of a stream protocol's WebSocket harness: routes with a WebSocket at
/// /ws, the limits, the counters, the real dispatcher, and the channel the app hears on.
struct ws_app_side {
    dispatch::app_routes routes;
    http::connection_limits limits;
    core::core_counters counters;
    dispatch::request_dispatcher dispatcher{routes, nullptr, nullptr, 0, nullptr, nullptr};
    std::shared_ptr<recording_channel> chan = std::make_shared<recording_channel>();
    ws_app_side() { add_websocket_route(routes, "/ws"); }
};

} // namespace ringbolt::test_support
