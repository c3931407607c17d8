// WebSocket over HTTP/3 (RFC 9220) without QUIC: an nghttp3 client on the other side of
// the in-memory link (memory_link.hpp) opens extended CONNECT streams to h3::connection,
// the real dispatcher routes them as it routes HTTP/1.1's Upgrade, the test answers as
// the app (the 101 with its upgrade, then messages), and the WebSocket frames travel
// inside the stream's DATA frames, held until acknowledged like any body.
#include "dispatch/dispatcher.hpp"
#include "h3/connection.hpp"
#include "tests/unit/h3/memory_link.hpp"
#include "ws/connection.hpp"

#include "tests/support/protocol_harness.hpp"
#include "tests/support/stream_ws_cases.hpp"
#include "tests/support/ws_test_kit.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace ringbolt;
using namespace ringbolt::test_support;

constexpr uint64_t h3_no_error = 0x100;
constexpr uint64_t h3_message_error = 0x10e;

struct harness : ws_app_side {
    h3_test::env_holder envs;
    h3::connection conn;
    h3_test::client cl;
    h3_test::link net;

    static h3::settings with_websocket(bool on) {
        h3::settings s;
        s.websocket = on;
        return s;
    }
    explicit harness(bool websocket = true)
        : envs(test_support::make_env(limits, 1000, counters, dispatcher)), conn(envs, with_websocket(websocket)),
          net(conn, cl) {
        net.allowed = 100;
        conn.open(1, 1, {}, 1000, limits);
        conn.on_connected(net);
        net.pump(); // the SETTINGS: the client knows them before it connects (RFC 9220 §3)
    }
    uint32_t& now() { return envs.e.now_s; }
    /// An extended CONNECT to `path` with `protocol`; its DATA is what send() adds.
    int64_t connect(const std::string& path, const std::string& protocol = "websocket") {
        int64_t id = cl.request(path, {{":protocol", protocol}, {"sec-websocket-version", "13"}}, "CONNECT", nullptr,
                                65536, true);
        net.pump();
        return id;
    }
    // What the shared cases (tests/support/stream_ws_cases.hpp) ask of a harness.
    void client_send(int64_t id, const std::string& bytes, bool end = false) {
        cl.send_more(id, bytes, end);
        net.pump();
    }
    auto& answer(int64_t id) { return cl.answers[id]; }
    /// What the client sent on `id` and has no credit back for.
    int64_t uncredited(int64_t id) { return static_cast<int64_t>(net.sent[id] - net.credit[id]); }
    bool idle() const { return conn.idle(); }
    void drain() {
        EXPECT_FALSE(conn.begin_drain(now(), 5));
        net.pump();
    }
    void app(int64_t id, http::app_response&& m) {
        m.seq = static_cast<uint64_t>(id);
        conn.on_app_message(std::move(m), envs.e);
        net.pump();
    }
    void accept(int64_t id, ws::settings cfg = {}) {
        app(id, test_support::accept_handshake(dispatcher, static_cast<uint64_t>(id), http::version_http3, chan, cfg));
    }
    void app_send(int64_t id, ws::opcode op, std::string body) {
        app(id, test_support::app_message(static_cast<uint64_t>(id), op, std::move(body)));
    }
    int64_t open_ws() {
        int64_t id = connect("/ws");
        accept(id);
        return id;
    }
    void tick() {
        conn.on_timeout(envs.e);
        net.pump();
    }
};

RINGBOLT_STREAM_WS_CASES(H3WebSocket, harness)

// What HTTP/3 adds to the shared cases: the stream's cap and its grant.
TEST(H3WebSocket, AnAcceptedStreamIsOwedUntilItsCloseAndThenGivenBack) {
    harness h;
    int64_t id = h.open_ws();
    EXPECT_EQ(h.conn.outstanding(), 1u); // the WebSocket's app owes the stream until it ends
    h.client_send(id, client_frame(0x8, close_payload(1000)), true);
    EXPECT_TRUE(h.cl.answers[id].closed);
    EXPECT_EQ(h.conn.outstanding(), 0u);
    EXPECT_EQ(h.net.grants, 1u); // the stream was given back to the client
    EXPECT_TRUE(h.conn.idle());
}

// After the close handshake the server ended its side; a client that never ends its own
// is asked to stop once the keep-alive timeout passed (STOP_SENDING H3_NO_ERROR, RFC 9114
// §4.1), and what we sent (the close frame) is not reset.
TEST(H3WebSocket, ClientThatNeverEndsItsSideIsToldToStop) {
    harness h;
    int64_t id = h.open_ws();
    h.client_send(id, client_frame(0x8, close_payload(1000))); // no FIN after it
    EXPECT_TRUE(h.cl.answers[id].ended);
    EXPECT_FALSE(h.conn.idle());
    ASSERT_NE(h.conn.deadline(), 0u);
    EXPECT_LE(h.conn.deadline(), h.now() + h.limits.keep_alive_timeout_s);
    h.now() = h.conn.deadline() + 1;
    h.tick();
    EXPECT_EQ(h.net.server_stops[id], h3_no_error);
    EXPECT_FALSE(h.net.server_resets.contains(id));
    EXPECT_TRUE(h.conn.idle());
    EXPECT_EQ(h.chan->code, 1000); // the app heard the close, not a reset
}

TEST(H3WebSocket, ResetStreamIs1006) {
    harness h;
    int64_t id = h.open_ws();
    h.net.client_reset(id, 0x10c); // H3_REQUEST_CANCELLED
    h.net.pump();
    EXPECT_EQ(h.chan->closed, 1);
    EXPECT_EQ(h.chan->code, ws::close_code::abnormal);
    EXPECT_EQ(h.net.server_resets[id], 0x10cu); // our side is reset too
    EXPECT_TRUE(h.conn.idle());
    EXPECT_EQ(h.conn.outstanding(), 0u);
}

// The client asks us to stop sending (STOP_SENDING): the WebSocket cannot go on, and its
// app hears 1006 at once rather than once its sends fill the stream.
TEST(H3WebSocket, StopSendingIs1006) {
    harness h;
    int64_t id = h.open_ws();
    h.conn.on_stop_sending(id, 0x10c);
    h.net.pump();
    EXPECT_EQ(h.chan->closed, 1);
    EXPECT_EQ(h.chan->code, ws::close_code::abnormal);
    EXPECT_EQ(h.net.server_resets[id], 0x10cu); // our side is reset with the client's code
    EXPECT_EQ(h.conn.outstanding(), 0u);
}

// A tunnel never ends on its own. Scheduled the default way (RFC 9218: not incremental,
// one stream of an urgency after the other), the busiest WebSocket would hold back every
// other stream of its urgency: found by 100 echoes of 16 KiB on one connection, where
// some waited seconds. Here 16 KiB leave per round: the second WebSocket's message must
// not wait for the whole of the first's 256 KiB.
TEST(H3WebSocket, BusyWebSocketDoesNotHoldBackAnother) {
    harness h;
    int64_t busy = h.open_ws();
    int64_t other = h.open_ws();
    h.net.conn_budget = 0;
    h.app_send(busy, ws::opcode::binary, std::string(256 * 1024, 'b'));
    h.app_send(other, ws::opcode::text, "not last");
    const std::string want = server_frame(0x1, "not last");
    int rounds = 0;
    while (h.answer(other).body != want && rounds < 64) {
        h.net.conn_budget = 16 * 1024;
        h.net.step();
        ++rounds;
    }
    ASSERT_EQ(h.answer(other).body, want);
    EXPECT_LT(h.answer(busy).body.size(), 64u * 1024) << "after " << rounds << " rounds";
    h.net.conn_budget = UINT64_MAX;
    h.net.pump();
    EXPECT_EQ(h.answer(busy).body.size(), 256u * 1024 + 10);
    EXPECT_TRUE(h.answer(busy).body == server_frame(0x2, std::string(256 * 1024, 'b')));
}

TEST(H3WebSocket, UnknownProtocolAndPlainConnectAre501) {
    harness h;
    int64_t id = h.connect("/ws", "chat-over-h3");
    EXPECT_EQ(h.cl.answers[id].headers[":status"], "501");
    EXPECT_TRUE(h.dispatcher.batch().empty());
    std::string none;
    int64_t plain = h.cl.request("/ws", {}, "CONNECT", &none);
    h.net.pump();
    // (nghttp3 takes a CONNECT with :scheme and :path as an extended one without :protocol)
    EXPECT_TRUE(h.cl.answers[plain].headers[":status"] == "501" || h.net.server_resets.contains(plain));
    EXPECT_TRUE(h.dispatcher.batch().empty());
}

// An extended CONNECT in 0-RTT could be a replay that opens the WebSocket twice (RFC 9001
// §9.2): 425 (RFC 8470 §3), nothing reaches the app; sent again after the handshake, the
// same CONNECT opens the WebSocket.
TEST(H3WebSocket, ConnectInEarlyDataIs425) {
    harness h;
    h.net.early.insert(h.cl.next_id);
    int64_t id = h.connect("/ws");
    EXPECT_EQ(h.answer(id).headers[":status"], "425");
    EXPECT_TRUE(h.dispatcher.batch().empty());
    EXPECT_TRUE(h.answer(id).ended);
    int64_t again = h.open_ws();
    EXPECT_EQ(h.answer(again).headers[":status"], "200");
    EXPECT_EQ(h.conn.outstanding(), 1u);
}

TEST(H3WebSocket, NotAdvertisedMeansMalformed) {
    harness h(false);
    int64_t id = h.connect("/ws");
    // Without SETTINGS_ENABLE_CONNECT_PROTOCOL, :protocol makes the request malformed.
    EXPECT_EQ(h.net.server_resets[id], h3_message_error);
    EXPECT_TRUE(h.dispatcher.batch().empty());
    EXPECT_FALSE(h.net.closed_conn);
}

} // namespace
