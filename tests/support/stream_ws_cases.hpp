// The cases a WebSocket on a stream passes on every protocol that carries one (HTTP/2,
// RFC 8441; HTTP/3, RFC 9220), written once. Each protocol's test gives a harness H with:
//   int64-like open_ws(), connect(path); accept(id); app(id, app_response&&);
//   app_send(id, opcode, body); client_send(id, bytes, end) (the client's DATA, its end);
//   answer(id) (.headers, .body, .ended as the client saw them); uncredited(id) (bytes the
//   client sent without credit back); idle(); chan (the app's recording_channel); drain()
//   (the server begins draining).
#pragma once

#include "tests/support/ws_test_kit.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringbolt::test_support {

/// Accepted with 200 (RFC 8441 §5, RFC 9220 §3), its fields passed on without Upgrade;
/// a frame split across DATA frames arrives as one message; the app's answer and the
/// session's own pong go out as frames, credited to the app as they are sent.
template <class H> void ws_accepted_with_200_and_echoes(H& h) {
    auto id = h.connect("/ws");
    EXPECT_TRUE(h.answer(id).headers.empty()); // nothing until the app accepts
    h.accept(id);
    auto& s = h.answer(id);
    EXPECT_EQ(s.headers[":status"], "200");
    EXPECT_EQ(s.headers["x-room"], "a");
    EXPECT_EQ(s.headers.count("upgrade"), 0u);
    EXPECT_FALSE(s.ended);
    std::string f = client_frame(0x1, "hello over a stream");
    h.client_send(id, f.substr(0, 5));
    EXPECT_TRUE(h.chan->messages.empty());
    h.client_send(id, f.substr(5));
    ASSERT_EQ(h.chan->messages.size(), 1u);
    EXPECT_EQ(h.chan->messages[0].second, "hello over a stream");
    h.app_send(id, ws::opcode::text, "hi back");
    EXPECT_EQ(s.body, server_frame(0x1, "hi back"));
    EXPECT_EQ(h.chan->sent, h.chan->framed_wire); // the credit of what went out
    h.client_send(id, client_frame(0x9, "p"));
    EXPECT_EQ(s.body, server_frame(0x1, "hi back") + server_frame(0xA, "p"));
}

/// The client's close: echoed, our side ends after it, the client's end closes the stream.
template <class H> void ws_close_handshake_ends_the_stream(H& h) {
    auto id = h.open_ws();
    h.client_send(id, client_frame(0x8, close_payload(1000)));
    EXPECT_EQ(h.chan->closed, 1);
    EXPECT_EQ(h.chan->code, 1000);
    auto& s = h.answer(id);
    EXPECT_EQ(s.body, server_frame(0x8, close_payload(1000)));
    EXPECT_TRUE(s.ended);
    h.client_send(id, "", true);
    EXPECT_TRUE(h.idle());
}

/// The app's close: sent, our side stays open for the client's answer, which ends both.
template <class H> void ws_app_closes_first(H& h) {
    auto id = h.open_ws();
    h.app_send(id, ws::opcode::close, close_payload(4000));
    auto& s = h.answer(id);
    EXPECT_EQ(s.body, server_frame(0x8, close_payload(4000)));
    EXPECT_FALSE(s.ended);
    h.client_send(id, client_frame(0x8, close_payload(4000)), true);
    EXPECT_EQ(h.chan->code, 4000);
    EXPECT_TRUE(s.ended);
    EXPECT_TRUE(h.idle());
}

/// The client's end without a close frame: 1006 for the app, and our side ends.
template <class H> void ws_end_without_close_is_1006(H& h) {
    auto id = h.open_ws();
    h.client_send(id, "", true);
    EXPECT_EQ(h.chan->closed, 1);
    EXPECT_EQ(h.chan->code, ws::close_code::abnormal);
    EXPECT_TRUE(h.answer(id).ended);
}

/// Backpressure into the client's flow control: what the session holds back for an app
/// that has not taken its messages is not credited (the client's window shrinks), and
/// once the app takes them reading goes on and the rest arrives.
template <class H> void ws_reading_waits_for_the_app(H& h) {
    auto id = h.connect("/ws");
    ws::settings cfg;
    cfg.read_window = 1000;
    h.accept(id, cfg);
    std::string many;
    for (int i = 0; i < 400; ++i) {
        many += client_frame(0x2, std::string(100, static_cast<char>('a' + i % 26)));
    }
    h.client_send(id, many);
    EXPECT_LT(h.chan->messages.size(), 400u);
    EXPECT_GE(h.chan->unconsumed(), 1000u);
    EXPECT_GT(h.uncredited(id), 1000);
    for (int round = 0; round < 100 && h.chan->messages.size() < 400; ++round) {
        h.chan->taken = h.chan->delivered;
        http::app_response more;
        more.parts = http::app_response::part_read_more;
        h.app(id, std::move(more));
    }
    EXPECT_EQ(h.chan->messages.size(), 400u);
}

/// The app refuses the handshake with an ordinary answer (a 403, an ASGI denial): it goes
/// out as any answer on the stream, which is then over.
template <class H> void ws_refusal_is_an_ordinary_answer(H& h) {
    auto id = h.connect("/ws");
    h.dispatcher.batch().clear();
    h.app(id, whole_answer(static_cast<uint64_t>(id), 403, "no"));
    EXPECT_EQ(h.answer(id).headers[":status"], "403");
    EXPECT_EQ(h.answer(id).body, "no");
    EXPECT_TRUE(h.answer(id).ended);
    EXPECT_EQ(h.conn.outstanding(), 0u);
}

/// The server drains: the session closes with 1001 ("going away").
template <class H> void ws_drain_sends_going_away(H& h) {
    auto id = h.open_ws();
    h.drain();
    EXPECT_EQ(h.chan->code, ws::close_code::going_away);
    EXPECT_EQ(h.answer(id).body, server_frame(0x8, close_payload(1001) + "server shutting down"));
}

} // namespace ringbolt::test_support

/// The cases above as tests of `suite`, each on a fresh `Harness`.
#define RINGBOLT_STREAM_WS_CASES(suite, Harness)                                                                       \
    TEST(suite, AcceptedWithStatus200AndEchoesMessages) {                                                              \
        Harness h;                                                                                                     \
        ringbolt::test_support::ws_accepted_with_200_and_echoes(h);                                                    \
    }                                                                                                                  \
    TEST(suite, CloseHandshakeEndsTheStream) {                                                                         \
        Harness h;                                                                                                     \
        ringbolt::test_support::ws_close_handshake_ends_the_stream(h);                                                 \
    }                                                                                                                  \
    TEST(suite, AppClosesFirst) {                                                                                      \
        Harness h;                                                                                                     \
        ringbolt::test_support::ws_app_closes_first(h);                                                                \
    }                                                                                                                  \
    TEST(suite, EndWithoutCloseIs1006) {                                                                               \
        Harness h;                                                                                                     \
        ringbolt::test_support::ws_end_without_close_is_1006(h);                                                       \
    }                                                                                                                  \
    TEST(suite, ReadingWaitsForTheAppThroughFlowControl) {                                                             \
        Harness h;                                                                                                     \
        ringbolt::test_support::ws_reading_waits_for_the_app(h);                                                       \
    }                                                                                                                  \
    TEST(suite, ARefusalIsAnOrdinaryAnswer) {                                                                          \
        Harness h;                                                                                                     \
        ringbolt::test_support::ws_refusal_is_an_ordinary_answer(h);                                                   \
    }                                                                                                                  \
    TEST(suite, DrainSendsGoingAway) {                                                                                 \
        Harness h;                                                                                                     \
        ringbolt::test_support::ws_drain_sends_going_away(h);                                                          \
    }
