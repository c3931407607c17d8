// The WebSocket protocol driven by a fake reactor: the handshake through the HTTP/1.1
// protocol and the dispatcher, the switch on the app's 101, then frames in (split at
// every byte), messages to a recording channel, the app's messages framed out, the
// close handshake, failures with their codes, pings, drain and read backpressure.
#include "ws/connection.hpp"

#include "dispatch/dispatcher.hpp"
#include "http/http1_connection.hpp"
#include "tests/support/counting_ws_channel.hpp"
#include "tests/support/ws_test_kit.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt::ws {
namespace {

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view handshake =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

std::string drain_queue(core::output_queue& q) {
    std::string out;
    core::send_batch b;
    while (q.take_front(b, 8, SIZE_MAX)) {
        for (const core::segment& s : b.segments()) {
            out += s.bytes();
        }
        b.consume(b.remaining());
        b.reset();
    }
    return out;
}

using test_support::client_frame;

std::string close_payload(uint16_t code, std::string_view reason = "") {
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code & 0xFF));
    p.append(reason);
    return p;
}

struct server_frame {
    bool fin;
    bool rsv1;
    uint8_t op;
    std::string payload;
};

/// Parse what the server sent (unmasked frames); fails the test on a malformed one.
std::vector<server_frame> parse_server(std::string_view wire) {
    std::vector<server_frame> out;
    while (!wire.empty()) {
        EXPECT_GE(wire.size(), 2u);
        auto b0 = static_cast<uint8_t>(wire[0]);
        auto b1 = static_cast<uint8_t>(wire[1]);
        EXPECT_EQ(b1 & 0x80, 0) << "server frames are not masked";
        uint64_t n = b1 & 0x7F;
        size_t at = 2;
        if (n == 126) {
            n = (static_cast<uint8_t>(wire[2]) << 8) | static_cast<uint8_t>(wire[3]);
            at = 4;
        } else if (n == 127) {
            n = 0;
            for (int i = 0; i < 8; ++i) {
                n = (n << 8) | static_cast<uint8_t>(wire[2 + i]);
            }
            at = 10;
        }
        if (wire.size() < at + n) {
            ADD_FAILURE() << "truncated server frame";
            break;
        }
        out.push_back(
            {(b0 & 0x80) != 0, (b0 & 0x40) != 0, static_cast<uint8_t>(b0 & 0x0F), std::string(wire.substr(at, n))});
        wire.remove_prefix(at + n);
    }
    return out;
}

struct recording_channel final : test_support::counting_ws_channel {
    std::vector<std::pair<opcode, std::string>> messages;
    uint16_t code = 0;
    std::string reason;
    void on_message(opcode op, std::string&& p) noexcept override {
        delivered += p.size();
        messages.emplace_back(op, std::move(p));
    }
    void on_closed(uint16_t c, std::string_view r) noexcept override {
        ++closed;
        code = c;
        reason.assign(r);
    }
};

struct fake_reactor {
    dispatch::app_routes routes;
    http::connection_limits limits;
    core::core_counters counters;
    dispatch::request_dispatcher dispatcher{routes, nullptr, nullptr, 0, nullptr, nullptr};
    std::unique_ptr<http::protocol> conn = std::make_unique<http::http1_connection>();
    std::shared_ptr<recording_channel> chan = std::make_shared<recording_channel>();
    uint32_t now = 100;
    bool draining = false;
    std::string wire;

    fake_reactor() {
        test_support::add_websocket_route(routes, "/ws");
        conn->open(7, 3, {}, now, limits);
    }

    http::protocol_env env() { return http::protocol_env{limits, date, now, draining, counters, dispatcher}; }

    void feed(std::string_view bytes) {
        auto e = env();
        conn->on_data(bytes, e);
        take_output();
    }

    void pump() {
        auto e = env();
        conn->pump(e);
        take_output();
    }

    void take_output() { wire += drain_queue(conn->output()); }

    std::string take_wire() {
        std::string w;
        w.swap(wire);
        return w;
    }

    /// The app accepts the handshake in the batch: 101 + the switch, as the reactor does it.
    void accept(settings cfg = {}) {
        ASSERT_EQ(dispatcher.batch().size(), 1u);
        dispatch::app_request req = std::move(dispatcher.batch().front());
        dispatcher.batch().clear();
        ASSERT_TRUE(req.websocket);
        http::app_response m;
        m.conn_slot = req.conn_slot;
        m.conn_gen = req.conn_gen;
        m.seq = req.seq;
        m.parts = http::app_response::part_head;
        m.start.status = 101;
        m.start.fields = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n";
        m.rare().upgrade = std::make_shared<upgrade>(chan, cfg);
        auto e = env();
        conn->on_app_message(std::move(m), e);
        ASSERT_TRUE(conn->has_successor());
        std::unique_ptr<http::protocol> next = conn->take_successor();
        conn->release();
        conn = std::move(next);
        take_output();
        pump(); // what arrived after the handshake
    }

    void app_send(opcode op, std::string body) {
        http::app_response m;
        m.parts = http::app_response::part_message;
        m.opcode = static_cast<uint8_t>(op);
        m.body = std::move(body);
        auto e = env();
        conn->on_app_message(std::move(m), e);
        take_output();
    }

    void open(settings cfg = {}) {
        feed(handshake);
        accept(cfg);
        std::string head = take_wire();
        ASSERT_EQ(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << head;
        ASSERT_NE(head.find("Sec-WebSocket-Accept: x\r\n"), std::string::npos);
        ASSERT_EQ(head.find("Content-Length"), std::string::npos);
        ASSERT_EQ(head.find("Transfer-Encoding"), std::string::npos);
    }
};

TEST(WsConnection, HandshakeSwitchesAndFramesSentEarlyAreKept) {
    fake_reactor r;
    // A client that sends its first frame right behind the handshake: the HTTP/1.1 side
    // must not parse it as a request, and the WebSocket side gets it after the switch.
    r.feed(std::string(handshake) + client_frame(1, "early"));
    EXPECT_TRUE(r.wire.empty()); // nothing is answered before the app decides
    r.accept();
    std::string w = r.take_wire();
    ASSERT_EQ(w.rfind("HTTP/1.1 101 ", 0), 0u);
    EXPECT_TRUE(parse_server(w.substr(w.find("\r\n\r\n") + 4)).empty()); // only the 101
    ASSERT_EQ(r.chan->messages.size(), 1u);
    EXPECT_EQ(r.chan->messages[0].second, "early");
    EXPECT_EQ(r.counters.websockets_opened.get(), 1u);
}

TEST(WsConnection, RefusedHandshakeStaysHttp) {
    fake_reactor r;
    r.feed(handshake);
    ASSERT_EQ(r.dispatcher.batch().size(), 1u);
    dispatch::app_request req = std::move(r.dispatcher.batch().front());
    r.dispatcher.batch().clear();
    http::app_response m;
    m.seq = req.seq;
    m.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
    m.start.status = 403;
    m.start.content_length = 0;
    auto e = r.env();
    r.conn->on_app_message(std::move(m), e);
    EXPECT_FALSE(r.conn->has_successor());
    r.take_output();
    EXPECT_EQ(r.take_wire().rfind("HTTP/1.1 403 ", 0), 0u);
    r.feed("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"); // still HTTP: a plain GET gets 426 natively
    EXPECT_EQ(r.take_wire().rfind("HTTP/1.1 426 ", 0), 0u);
}

TEST(WsConnection, HandshakeErrorsAnsweredNatively) {
    fake_reactor r;
    r.feed("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n");
    std::string w = r.take_wire();
    EXPECT_EQ(w.rfind("HTTP/1.1 426 ", 0), 0u) << w;
    EXPECT_NE(w.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
    r.feed("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: bm90IDE2IGJ5dGVz\r\nSec-WebSocket-Version: 13\r\n\r\n");
    EXPECT_EQ(r.take_wire().rfind("HTTP/1.1 400 ", 0), 0u);
    EXPECT_TRUE(r.dispatcher.batch().empty());
}

TEST(WsConnection, MessagesSplitAtEveryByte) {
    std::string input = client_frame(1, "Hello, ", false) + client_frame(9, "p!") + client_frame(0, "wörld") +
                        client_frame(2, std::string(300, 'b')) + client_frame(10, "unsolicited pong");
    for (size_t step = 1; step <= 7; ++step) {
        fake_reactor r;
        r.open();
        for (size_t i = 0; i < input.size(); i += step) {
            r.feed(std::string_view(input).substr(i, step));
        }
        ASSERT_EQ(r.chan->messages.size(), 2u) << step;
        EXPECT_EQ(r.chan->messages[0], std::make_pair(opcode::text, std::string("Hello, wörld")));
        EXPECT_EQ(r.chan->messages[1], std::make_pair(opcode::binary, std::string(300, 'b')));
        auto frames = parse_server(r.take_wire());
        ASSERT_EQ(frames.size(), 1u);
        EXPECT_EQ(frames[0].op, 10);
        EXPECT_EQ(frames[0].payload, "p!");
        EXPECT_EQ(r.chan->closed, 0);
    }
}

TEST(WsConnection, AppMessagesAreFramedWithCredit) {
    fake_reactor r;
    r.open();
    r.app_send(opcode::text, "hi");
    r.app_send(opcode::binary, std::string(70000, 'z'));
    auto frames = parse_server(r.take_wire());
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].op, 1);
    EXPECT_EQ(frames[0].payload, "hi");
    EXPECT_EQ(frames[1].op, 2);
    EXPECT_EQ(frames[1].payload.size(), 70000u);
    // Every byte the app's messages put on the wire is credited back once sent.
    EXPECT_EQ(r.chan->framed_payload, 70002u);
    EXPECT_EQ(r.chan->sent, r.chan->framed_wire);
    EXPECT_EQ(r.counters.websocket_messages_out.get(), 2u);
}

TEST(WsConnection, ClientCloseIsEchoedAndEnds) {
    fake_reactor r;
    r.open();
    r.feed(client_frame(8, close_payload(4000, "bye")));
    auto frames = parse_server(r.take_wire());
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].op, 8);
    EXPECT_EQ(frames[0].payload, close_payload(4000));
    EXPECT_EQ(r.chan->closed, 1);
    EXPECT_EQ(r.chan->code, 4000);
    EXPECT_EQ(r.chan->reason, "bye");
    EXPECT_TRUE(r.conn->close_after_flush());
    auto e = r.env();
    EXPECT_FALSE(r.conn->on_data(client_frame(1, "late"), e)); // nothing after the close is read
    r.app_send(opcode::text, "dropped");
    EXPECT_TRUE(r.take_wire().empty());
    r.conn->release();
    EXPECT_EQ(r.chan->closed, 1); // told once
}

TEST(WsConnection, AppCloseWaitsForTheClientThenTimesOut) {
    fake_reactor r;
    settings cfg;
    cfg.close_timeout_s = 3;
    r.open(cfg);
    std::string payload = close_payload(1000, "done");
    r.app_send(opcode::close, payload);
    auto frames = parse_server(r.take_wire());
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].payload, payload);
    EXPECT_FALSE(r.conn->close_after_flush()); // the client's answer is awaited
    r.feed(client_frame(1, "in flight"));      // data after our close is discarded (§1.4)
    EXPECT_TRUE(r.chan->messages.empty());
    EXPECT_EQ(r.conn->deadline(), r.now + 3);
    r.now += 3;
    auto e = r.env();
    r.conn->on_timeout(e);
    EXPECT_TRUE(r.conn->close_after_flush());
    EXPECT_EQ(r.chan->code, close_code::abnormal);
}

struct failure_case {
    const char* name;
    std::string input;
    uint16_t code;
};

TEST(WsConnection, FailuresCloseWithTheirCodes) {
    settings cfg;
    cfg.max_message = 1000;
    std::string unmasked = client_frame(1, "x");
    unmasked[1] = static_cast<char>(unmasked[1] & 0x7F);
    unmasked.erase(2, 4);
    std::vector<failure_case> cases = {
        {"unmasked", unmasked, close_code::protocol_error},
        {"rsv2",
         [] {
             std::string f = client_frame(1, "x");
             f[0] = static_cast<char>(f[0] | 0x20);
             return f;
         }(),
         close_code::protocol_error},
        {"rsv1 without deflate", client_frame(1, "x", true, true), close_code::protocol_error},
        {"opcode 3", client_frame(3, "x"), close_code::protocol_error},
        {"continuation first", client_frame(0, "x"), close_code::protocol_error},
        {"text inside text", client_frame(1, "a", false) + client_frame(1, "b"), close_code::protocol_error},
        {"ping too long", client_frame(9, std::string(126, 'p')), close_code::protocol_error},
        {"fragmented ping", client_frame(9, "p", false), close_code::protocol_error},
        {"bad utf-8", client_frame(1, "\xff"), close_code::invalid_payload},
        {"utf-8 cut at the end", client_frame(1, "\xc3"), close_code::invalid_payload},
        {"fail fast", client_frame(1, "ok\xed\xa0", false), close_code::invalid_payload}, // a surrogate
        {"too big", client_frame(2, std::string(1001, 'x')), close_code::too_big},
        {"too big in pieces", client_frame(2, std::string(600, 'x'), false) + client_frame(0, std::string(600, 'x')),
         close_code::too_big},
        {"close 1 byte", client_frame(8, "\x03"), close_code::protocol_error},
        {"close code 1005", client_frame(8, close_payload(1005)), close_code::protocol_error},
        {"close code 999", client_frame(8, close_payload(999)), close_code::protocol_error},
        {"close reason not utf-8", client_frame(8, close_payload(1000, "\xff")), close_code::invalid_payload},
    };
    for (const failure_case& c : cases) {
        fake_reactor r;
        r.open(cfg);
        r.feed(c.input);
        auto frames = parse_server(r.take_wire());
        ASSERT_FALSE(frames.empty()) << c.name;
        EXPECT_EQ(frames.back().op, 8) << c.name;
        ASSERT_GE(frames.back().payload.size(), 2u) << c.name;
        uint16_t sent = static_cast<uint16_t>((static_cast<uint8_t>(frames.back().payload[0]) << 8) |
                                              static_cast<uint8_t>(frames.back().payload[1]));
        EXPECT_EQ(sent, c.code) << c.name;
        EXPECT_EQ(r.chan->closed, 1) << c.name;
        EXPECT_EQ(r.chan->code, c.code) << c.name;
        EXPECT_TRUE(r.chan->messages.empty()) << c.name;
        EXPECT_TRUE(r.conn->close_after_flush()) << c.name;
        EXPECT_EQ(r.counters.websocket_failures.get(), 1u) << c.name;
    }
}

TEST(WsConnection, AnAppThatDoesNotTakeMessagesStopsReading) {
    fake_reactor r;
    settings cfg;
    cfg.read_window = 1000;
    r.open(cfg);
    std::string input;
    for (int i = 0; i < 5; ++i) {
        input += client_frame(2, std::string(600, static_cast<char>('a' + i)));
    }
    r.feed(input);
    // Two messages cross the window: the rest waits in the connection, reading paused.
    ASSERT_EQ(r.chan->messages.size(), 2u);
    EXPECT_TRUE(r.conn->has_pending_input());
    EXPECT_EQ(r.counters.websocket_reads_paused.get(), 1u);
    r.pump(); // nothing taken yet: still held
    EXPECT_EQ(r.chan->messages.size(), 2u);
    r.chan->taken = r.chan->delivered; // the app took them (and sent credit)
    r.pump();
    ASSERT_EQ(r.chan->messages.size(), 4u);
    r.chan->taken = r.chan->delivered;
    r.pump();
    ASSERT_EQ(r.chan->messages.size(), 5u);
    EXPECT_FALSE(r.conn->has_pending_input());
    EXPECT_EQ(r.chan->messages[4].second, std::string(600, 'e'));
}

TEST(WsConnection, IdlePingThenTimeout) {
    fake_reactor r;
    settings cfg;
    cfg.ping_interval_s = 20;
    cfg.ping_timeout_s = 5;
    r.open(cfg);
    EXPECT_EQ(r.conn->deadline(), r.now + 20);
    r.now += 20;
    auto e = r.env();
    r.conn->on_timeout(e);
    r.take_output();
    auto frames = parse_server(r.take_wire());
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].op, 9);
    EXPECT_EQ(r.conn->deadline(), r.now + 5);
    r.feed(client_frame(10, "")); // the pong: alive, the idle clock starts again
    EXPECT_EQ(r.conn->deadline(), r.now + 20);
    r.now += 20;
    auto e2 = r.env();
    r.conn->on_timeout(e2); // ping again
    r.now += 5;
    auto e3 = r.env();
    r.conn->on_timeout(e3); // no answer this time
    r.take_output();
    frames = parse_server(r.take_wire());
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[1].op, 8);
    EXPECT_EQ(frames[1].payload.substr(0, 2), close_payload(close_code::internal_error));
    EXPECT_TRUE(r.conn->close_after_flush());
}

TEST(WsConnection, DrainSends1001AndTellsTheApp) {
    fake_reactor r;
    r.open();
    EXPECT_FALSE(r.conn->begin_drain(r.now, 1));
    r.take_output();
    auto frames = parse_server(r.take_wire());
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].payload.substr(0, 2), close_payload(close_code::going_away));
    EXPECT_EQ(r.chan->code, close_code::going_away);
    r.feed(client_frame(8, close_payload(1001)));
    EXPECT_TRUE(r.conn->close_after_flush());
    EXPECT_EQ(r.chan->closed, 1);
}

TEST(WsConnection, PeerEofIs1006) {
    fake_reactor r;
    r.open();
    auto e = r.env();
    r.conn->end_input(e);
    EXPECT_EQ(r.chan->code, close_code::abnormal);
    EXPECT_TRUE(r.conn->nothing_owed());
}

TEST(WsConnection, CompressedMessagesBothWays) {
    fake_reactor r;
    settings cfg;
    cfg.deflate = deflate_params{};
    cfg.deflate_cfg.compress_above = 16;
    r.open(cfg);
    // The client compresses with its own codec (same parameters: symmetric here).
    deflate_codec client(*cfg.deflate, cfg.deflate_cfg);
    std::string text(5000, 'q');
    std::string packed;
    ASSERT_TRUE(client.compress(text, packed));
    r.feed(client_frame(1, packed, true, true));
    ASSERT_EQ(r.chan->messages.size(), 1u);
    EXPECT_EQ(r.chan->messages[0].second, text);
    r.app_send(opcode::text, text);
    auto frames = parse_server(r.take_wire());
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_TRUE(frames[0].rsv1);
    EXPECT_LT(frames[0].payload.size(), 200u);
    std::string back;
    EXPECT_EQ(client.decompress(frames[0].payload, back, 1 << 20), deflate_codec::inflate_result::ok);
    EXPECT_EQ(back, text);
    r.app_send(opcode::text, "tiny"); // below compress_above: sent as is
    frames = parse_server(r.take_wire());
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_FALSE(frames[0].rsv1);
    EXPECT_EQ(r.chan->sent, r.chan->framed_wire);
}

} // namespace
} // namespace ringbolt::ws
