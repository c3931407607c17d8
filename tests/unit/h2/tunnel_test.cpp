// WebSocket over HTTP/2 (RFC 8441) without a ring: a libnghttp2 client session opens
// extended CONNECT streams to h2::connection, the real dispatcher routes them as it
// routes HTTP/1.1's Upgrade, the test answers as the app (the 101 with its upgrade,
// then messages), and the WebSocket frames travel inside the stream's DATA.
#include "dispatch/dispatcher.hpp"
#include "h2/connection.hpp"
#include "tests/unit/h2/nghttp2_client.hpp"
#include "ws/connection.hpp"

#include "tests/support/counting_ws_channel.hpp"
#include "tests/support/protocol_harness.hpp"
#include "tests/support/ws_test_kit.hpp"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace ringbolt;

struct recording_channel final : test_support::counting_ws_channel {
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

using test_support::client_frame;

/// A server frame as it is on the wire (unmasked, short payloads).
std::string server_frame(uint8_t op, std::string_view payload) {
    std::string f;
    f.push_back(static_cast<char>(0x80 | op));
    f.push_back(static_cast<char>(payload.size()));
    f.append(payload);
    return f;
}

std::string close_payload(uint16_t code) {
    return {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
}

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

struct harness {
    dispatch::app_routes routes;
    http::connection_limits limits;
    core::core_counters counters;
    dispatch::request_dispatcher dispatcher{routes, nullptr, nullptr, 0, nullptr, nullptr};
    h2::connection conn;
    client cl;
    std::shared_ptr<recording_channel> chan = std::make_shared<recording_channel>();
    uint32_t now = 1000;

    static h2::settings with_websocket(bool on) {
        h2::settings s;
        s.websocket = on;
        return s;
    }
    explicit harness(bool websocket = true) : conn(with_websocket(websocket)) {
        test_support::add_websocket_route(routes, "/ws");
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
    /// The app accepts the handshake in the batch as ws_accept does: a 101 carrying the upgrade.
    void accept(int32_t id, ws::settings cfg = {}) {
        ASSERT_EQ(dispatcher.batch().size(), 1u);
        dispatch::app_request req = std::move(dispatcher.batch().front());
        dispatcher.batch().clear();
        ASSERT_TRUE(req.websocket);
        EXPECT_EQ(req.version_minor, http::version_http2);
        EXPECT_EQ(req.seq, static_cast<uint64_t>(id));
        http::app_response m;
        m.parts = http::app_response::part_head;
        m.start.status = 101;
        m.start.fields = "X-Room: a\r\n";
        m.rare().upgrade = std::make_shared<ws::upgrade>(chan, cfg);
        app(id, std::move(m));
    }
    void app_send(int32_t id, ws::opcode op, std::string body) {
        http::app_response m;
        m.parts = http::app_response::part_message;
        m.opcode = static_cast<uint8_t>(op);
        m.body = std::move(body);
        app(id, std::move(m));
    }
    int32_t open_ws() {
        int32_t id = cl.connect("/ws");
        exchange();
        accept(id);
        return id;
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

TEST(H2WebSocket, AcceptedWithStatus200AndEchoesMessages) {
    harness h;
    int32_t id = h.cl.connect("/ws");
    h.exchange();
    ASSERT_EQ(h.dispatcher.batch().size(), 1u);
    EXPECT_TRUE(h.cl.answers[id].headers.empty()); // nothing until the app accepts
    h.accept(id);
    auto& s = h.cl.answers[id];
    EXPECT_EQ(s.headers[":status"], "200"); // RFC 8441 §5
    EXPECT_EQ(s.headers["x-room"], "a");
    EXPECT_EQ(s.headers.count("upgrade"), 0u);
    EXPECT_FALSE(s.ended);
    // Frames split across DATA frames arrive as one message.
    std::string f = client_frame(0x1, "hello over h2");
    h.cl.send(id, f.substr(0, 5));
    h.exchange();
    EXPECT_TRUE(h.chan->messages.empty());
    h.cl.send(id, f.substr(5));
    h.exchange();
    ASSERT_EQ(h.chan->messages.size(), 1u);
    EXPECT_EQ(h.chan->messages[0].second, "hello over h2");
    h.app_send(id, ws::opcode::text, "hi back");
    EXPECT_EQ(s.body, server_frame(0x1, "hi back"));
    EXPECT_EQ(h.chan->sent, h.chan->framed_wire); // the credit of what went out
    // A ping is answered by the session itself.
    h.cl.send(id, client_frame(0x9, "p"));
    h.exchange();
    EXPECT_EQ(s.body, server_frame(0x1, "hi back") + server_frame(0xA, "p"));
}

TEST(H2WebSocket, CloseHandshakeEndsTheStream) {
    harness h;
    int32_t id = h.open_ws();
    h.cl.send(id, client_frame(0x8, close_payload(1000)));
    h.exchange();
    EXPECT_EQ(h.chan->closed, 1);
    EXPECT_EQ(h.chan->code, 1000);
    auto& s = h.cl.answers[id];
    EXPECT_EQ(s.body, server_frame(0x8, close_payload(1000)));
    EXPECT_TRUE(s.ended); // our side ends after the close frame
    h.cl.send(id, "", true);
    h.exchange();
    EXPECT_TRUE(h.conn.idle());
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

TEST(H2WebSocket, AppClosesFirst) {
    harness h;
    int32_t id = h.open_ws();
    http::app_response m;
    m.parts = http::app_response::part_message;
    m.opcode = static_cast<uint8_t>(ws::opcode::close);
    m.body = close_payload(4000);
    h.app(id, std::move(m));
    auto& s = h.cl.answers[id];
    EXPECT_EQ(s.body, server_frame(0x8, close_payload(4000)));
    EXPECT_FALSE(s.ended);
    h.cl.send(id, client_frame(0x8, close_payload(4000)), true);
    h.exchange();
    EXPECT_EQ(h.chan->code, 4000);
    EXPECT_TRUE(s.ended);
    EXPECT_TRUE(h.conn.idle());
}

TEST(H2WebSocket, ResetOrEndedStreamIs1006) {
    {
        harness h;
        int32_t id = h.open_ws();
        nghttp2_submit_rst_stream(h.cl.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        h.cl.flush();
        h.exchange();
        EXPECT_EQ(h.chan->closed, 1);
        EXPECT_EQ(h.chan->code, ws::close_code::abnormal);
        EXPECT_TRUE(h.conn.idle());
    }
    {
        harness h;
        int32_t id = h.open_ws();
        h.cl.send(id, "", true); // END_STREAM without a close frame
        h.exchange();
        EXPECT_EQ(h.chan->closed, 1);
        EXPECT_EQ(h.chan->code, ws::close_code::abnormal);
        EXPECT_TRUE(h.cl.answers[id].ended);
    }
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

TEST(H2WebSocket, ReadingWaitsForTheAppThroughTheWindow) {
    harness h;
    int32_t id = h.cl.connect("/ws");
    h.exchange();
    ws::settings cfg;
    cfg.read_window = 1000;
    h.accept(id, cfg);
    std::string many;
    for (int i = 0; i < 400; ++i) {
        many += client_frame(0x2, std::string(100, static_cast<char>('a' + i % 26)));
    }
    int32_t before = nghttp2_session_get_stream_remote_window_size(h.cl.session, id);
    h.cl.send(id, many);
    h.exchange();
    size_t got = h.chan->messages.size();
    EXPECT_LT(got, 400u);
    EXPECT_GE(h.chan->unconsumed(), 1000u);
    // What the session holds back is not credited: the client's stream window shrank.
    int32_t after = nghttp2_session_get_stream_remote_window_size(h.cl.session, id);
    EXPECT_LT(after, before);
    // The app takes its messages: reading goes on, the rest arrives.
    for (int round = 0; round < 100 && h.chan->messages.size() < 400; ++round) {
        h.chan->taken = h.chan->delivered;
        http::app_response m;
        m.parts = http::app_response::part_read_more;
        h.app(id, std::move(m));
    }
    EXPECT_EQ(h.chan->messages.size(), 400u);
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
    http::app_response m;
    m.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
    m.start.status = 200;
    m.body = "plain";
    h.app(get_id, std::move(m));
    EXPECT_EQ(h.cl.answers[get_id].body, "plain");
    EXPECT_TRUE(h.cl.answers[get_id].ended);
    ASSERT_EQ(h.chan->messages.size(), 1u);
    EXPECT_EQ(h.chan->messages[0].second, "meanwhile");
    h.app_send(ws_id, ws::opcode::text, "still open");
    EXPECT_EQ(h.cl.answers[ws_id].body, server_frame(0x1, "still open"));
}

TEST(H2WebSocket, DrainSendsGoingAway) {
    harness h;
    int32_t id = h.open_ws();
    EXPECT_FALSE(h.conn.begin_drain(h.now, 5));
    h.cl.receive(test_support::take_output(h.conn.output()));
    EXPECT_EQ(h.chan->code, ws::close_code::going_away);
    std::string frame = server_frame(0x8, close_payload(1001) + "server shutting down");
    EXPECT_EQ(h.cl.answers[id].body, frame);
}

} // namespace
