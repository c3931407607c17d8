// WebSocket over HTTP/2 (RFC 8441) without a ring: a libnghttp2 client session opens
// extended CONNECT streams to h2::connection, the real dispatcher routes them as it
// routes HTTP/1.1's Upgrade, the test answers as the app (the 101 with its upgrade,
// then messages), and the WebSocket frames travel inside the stream's DATA.
#include "dispatch/dispatcher.hpp"
#include "h2/connection.hpp"
#include "tests/unit/h2/nghttp2_client.hpp"
#include "ws/connection.hpp"

#include "tests/support/protocol_harness.hpp"
#include "tests/support/stream_ws_cases.hpp"
#include "tests/support/ws_test_kit.hpp"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace ringbolt;

using namespace ringbolt::test_support;

// A client session: extended CONNECT streams, their DATA both ways.
struct client : h2_test::nghttp2_client {
    std::map<int32_t, std::string> to_send; ///< DATA queued per stream (the data provider reads it)
    std::map<int32_t, bool> end_after;

    static ssize_t read_queued(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                               nghttp2_data_source*, void* u) {
        auto* c = static_cast<client*>(u);
        std::string& q = c->to_send[id];
        if (q.empty()) {
            if (c->end_after[id]) {
                *flags |= NGHTTP2_DATA_FLAG_EOF;
                return 0;
            }
            return NGHTTP2_ERR_DEFERRED;
        }
        size_t n = std::min(length, q.size());
        std::memcpy(buf, q.data(), n);
        q.erase(0, n);
        if (q.empty() && c->end_after[id]) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return static_cast<ssize_t>(n);
    }

    /// An extended CONNECT to `path` with `protocol` (RFC 8441 §4); its body is what send() queues.
    int32_t connect(const std::string& path, const std::string& protocol = "websocket") {
        nghttp2_data_provider prd{};
        prd.read_callback = read_queued;
        return submit({{":method", "CONNECT"},
                       {":protocol", protocol},
                       {":scheme", "http"},
                       {":path", path},
                       {":authority", "x"},
                       {"sec-websocket-version", "13"}},
                      &prd);
    }
    void send(int32_t id, std::string bytes, bool end = false) {
        to_send[id] += bytes;
        end_after[id] = end;
        nghttp2_session_resume_data(session, id);
        flush();
    }
};

struct harness : ws_app_side {
    h2::connection conn;
    client cl;
    uint32_t now = 1000;

    static h2::settings with_websocket(bool on) {
        h2::settings s;
        s.websocket = on;
        return s;
    }
    explicit harness(bool websocket = true) : conn(with_websocket(websocket)) {
        conn.open(1, 1, {}, now, limits);
        exchange(); // the prefaces: the client knows the server's SETTINGS before it connects (RFC 8441 §4)
    }
    http::protocol_env env() { return test_support::make_env(limits, now, counters, dispatcher); }
    void exchange() {
        std::string bytes;
        bytes.swap(cl.out);
        auto e = env();
        conn.on_data(bytes, e);
        cl.receive(test_support::take_output(conn.output()));
    }
    /// The app's message for stream `id`, then the output to the client.
    void app(int32_t id, http::app_response&& m) {
        m.seq = static_cast<uint64_t>(id);
        auto e = env();
        conn.on_app_message(std::move(m), e);
        cl.receive(test_support::take_output(conn.output()));
        exchange();
    }
    void accept(int32_t id, ws::settings cfg = {}) {
        app(id, test_support::accept_handshake(dispatcher, static_cast<uint64_t>(id), http::version_http2, chan, cfg));
    }
    void app_send(int32_t id, ws::opcode op, std::string body) {
        app(id, test_support::app_message(static_cast<uint64_t>(id), op, std::move(body)));
    }
    int32_t connect(const std::string& path) {
        int32_t id = cl.connect(path);
        exchange();
        return id;
    }
    int32_t open_ws() {
        int32_t id = connect("/ws");
        accept(id);
        return id;
    }
    // What the shared cases (tests/support/stream_ws_cases.hpp) ask of a harness.
    void client_send(int32_t id, const std::string& bytes, bool end = false) {
        cl.send(id, bytes, end);
        exchange();
    }
    auto& answer(int32_t id) { return cl.answers[id]; }
    /// What the client sent on `id` and has no window back for.
    int64_t uncredited(int32_t id) {
        return int64_t{nghttp2_session_get_remote_settings(cl.session, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE)} -
               nghttp2_session_get_stream_remote_window_size(cl.session, id);
    }
    bool idle() const { return conn.idle(); }
    void drain() {
        EXPECT_FALSE(conn.begin_drain(now, 5));
        cl.receive(test_support::take_output(conn.output()));
    }
};

TEST(H2WebSocket, SettingsAdvertiseExtendedConnectOnlyWithWebSockets) {
    for (bool on : {true, false}) {
        harness h(on);
        h.exchange();
        EXPECT_EQ(nghttp2_session_get_remote_settings(h.cl.session, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL),
                  on ? 1u : 0u);
    }
}

// After the close handshake the server ended its side; a client that never ends its own
// is reset once the keep-alive timeout passed (RST_STREAM NO_ERROR, RFC 9113 §8.1).
TEST(H2WebSocket, ClientThatNeverEndsItsSideIsReset) {
    harness h;
    int32_t id = h.open_ws();
    h.cl.send(id, client_frame(0x8, close_payload(1000))); // no END_STREAM after it
    h.exchange();
    EXPECT_TRUE(h.cl.answers[id].ended);
    EXPECT_FALSE(h.conn.idle());
    ASSERT_NE(h.conn.deadline(), 0u);
    EXPECT_LE(h.conn.deadline(), h.now + h.limits.keep_alive_timeout_s);
    h.now = h.conn.deadline() + 1;
    auto e = h.env();
    h.conn.on_timeout(e);
    h.cl.receive(test_support::take_output(h.conn.output()));
    EXPECT_EQ(h.cl.answers[id].reset, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
    h.exchange();
    EXPECT_TRUE(h.conn.idle());
    EXPECT_EQ(h.chan->code, 1000); // the app heard the close, not a reset
}

RINGBOLT_STREAM_WS_CASES(H2WebSocket, harness)

TEST(H2WebSocket, ResetStreamIs1006) {
    harness h;
    int32_t id = h.open_ws();
    nghttp2_submit_rst_stream(h.cl.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    h.cl.flush();
    h.exchange();
    EXPECT_EQ(h.chan->closed, 1);
    EXPECT_EQ(h.chan->code, ws::close_code::abnormal);
    EXPECT_TRUE(h.conn.idle());
}

TEST(H2WebSocket, UnknownProtocolIs501) {
    harness h;
    int32_t id = h.cl.connect("/ws", "chat-over-h2");
    h.exchange();
    EXPECT_EQ(h.cl.answers[id].headers[":status"], "501");
    EXPECT_TRUE(h.dispatcher.batch().empty());
}

TEST(H2WebSocket, NotAdvertisedMeansRefused) {
    harness h(false);
    h.exchange();
    int32_t id = h.cl.connect("/ws");
    h.exchange();
    // Without SETTINGS_ENABLE_CONNECT_PROTOCOL, :protocol is malformed (RFC 8441 §4).
    EXPECT_TRUE(h.cl.answers[id].reset != 0xffffffff || h.cl.answers[id].headers[":status"] == "501");
    EXPECT_TRUE(h.dispatcher.batch().empty());
}

TEST(H2WebSocket, OrdinaryRequestsShareTheConnection) {
    harness h;
    EXPECT_EQ(h.routes.table.add("/plain", http::method_get, 1), "");
    dispatch::route_target t;
    t.kind = dispatch::target_kind::python;
    h.routes.targets.push_back(t);
    int32_t ws_id = h.open_ws();
    // A plain GET goes to the app in the same batch way; its answer comes as usual.
    std::vector<std::pair<std::string, std::string>> hv = {
        {":method", "GET"}, {":path", "/plain"}, {":scheme", "http"}, {":authority", "x"}};
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : hv) {
        nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()), n.size(), v.size(),
                       NGHTTP2_NV_FLAG_NONE});
    }
    int32_t get_id = nghttp2_submit_request(h.cl.session, nullptr, nva.data(), nva.size(), nullptr, nullptr);
    h.cl.send(ws_id, client_frame(0x1, "meanwhile"));
    h.exchange();
    ASSERT_EQ(h.dispatcher.batch().size(), 1u);
    EXPECT_FALSE(h.dispatcher.batch().front().websocket);
    h.dispatcher.batch().clear();
    h.app(get_id, whole_answer(static_cast<uint64_t>(get_id), 200, "plain"));
    EXPECT_EQ(h.cl.answers[get_id].body, "plain");
    EXPECT_TRUE(h.cl.answers[get_id].ended);
    ASSERT_EQ(h.chan->messages.size(), 1u);
    EXPECT_EQ(h.chan->messages[0].second, "meanwhile");
    h.app_send(ws_id, ws::opcode::text, "still open");
    EXPECT_EQ(h.cl.answers[ws_id].body, server_frame(0x1, "still open"));
}

} // namespace
