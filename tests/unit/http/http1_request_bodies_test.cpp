// HTTP/1.1 request bodies (http1_connection on the fake reactor of http1_fake_reactor.hpp):
// read whole or streamed to the app with flow control, direct reads into the body,
// Expect: 100-continue, limits, and a client that half-closes mid-body.
#include "tests/unit/http/http1_fake_reactor.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

using namespace http1_test;

TEST(Http1Connection, ExpectContinueBeforeBody) {
    fake_reactor f;
    f.feed("POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(f.wire, "HTTP/1.1 100 Continue\r\n\r\n");
    f.feed("abc");
    EXPECT_NE(f.wire.find("app:/py:abc"), std::string::npos);
}

TEST(Http1Connection, LargeBodyStreamsToAStreamingRouteWithFlowControl) {
    fake_reactor f;
    std::string body(400, 'b');
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 400\r\n\r\n" + body.substr(0, 100), false);
    ASSERT_EQ(f.batch.size(), 1u) << "reported at head time";
    ASSERT_TRUE(f.streams.last);
    EXPECT_TRUE(f.batch[0].streamed_body);
    auto rb = f.streams.last;
    EXPECT_EQ(rb->got.size(), 64u + 36u) << "the window (64) is not a cap on one push; 100 bytes arrived";
    auto e = f.env();
    // 200 more while 100 are untaken (>= window): this read still reaches the app (no
    // copy waits in the connection), and reading stops until the app takes some.
    f.conn.on_data(body.substr(100, 200), e);
    EXPECT_TRUE(f.conn.has_pending_input());
    EXPECT_EQ(rb->got, body.substr(0, 300));
    EXPECT_EQ(f.conn.deadline(), 0u) << "held back by the app: no read clock";
    rb->taken = 300; // the app took them and says so
    app_response credit = fake_reactor::message(f.batch[0], app_response::part_read_more);
    f.send(std::move(credit));
    f.conn.pump(e);
    EXPECT_FALSE(f.conn.has_pending_input());
    f.conn.on_data(body.substr(300), e);
    EXPECT_EQ(rb->got, body);
    EXPECT_EQ(rb->finished, 1);
    EXPECT_FALSE(f.conn.has_pending_input());
    f.answer_all();
    f.take_output();
    EXPECT_EQ(f.bodies(), std::vector<std::string>{"200 app:/upload:"});
    EXPECT_TRUE(f.conn.idle());
}

TEST(Http1Connection, DirectInputGoesStraightIntoTheStreamedBody) {
    fake_reactor f;
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n" + std::string(10, 'a'), false);
    auto rb = f.streams.last;
    ASSERT_TRUE(rb);
    EXPECT_TRUE(f.conn.direct_input().empty()) << "a stream without room: reads go through on_data";
    rb->room = true;
    std::span<char> room = f.conn.direct_input();
    ASSERT_EQ(room.size(), 32u);
    EXPECT_EQ(rb->asked, 290u) << "never more than the body has left";
    auto e = f.env();
    std::memset(room.data(), 'b', 32);
    f.conn.on_direct_input(32, e);
    EXPECT_EQ(rb->got, std::string(10, 'a') + std::string(32, 'b'));
    EXPECT_FALSE(f.conn.has_pending_input()) << "42 untaken, under the window (64)";
    room = f.conn.direct_input();
    ASSERT_EQ(room.size(), 32u);
    std::memset(room.data(), 'c', 32);
    f.conn.on_direct_input(32, e);
    EXPECT_TRUE(f.conn.has_pending_input()) << "74 untaken: the reads after this one wait";
    EXPECT_TRUE(f.conn.direct_input().empty());
    rb->taken = rb->got.size();
    f.send(fake_reactor::message(f.batch[0], app_response::part_read_more));
    f.conn.pump(e);
    EXPECT_FALSE(f.conn.has_pending_input());
    for (int i = 0; i < 7; ++i) { // 224 of the 226 left, the app keeping up
        rb->taken = rb->got.size();
        room = f.conn.direct_input();
        ASSERT_EQ(room.size(), 32u) << i;
        std::memset(room.data(), 'd', 32);
        f.conn.on_direct_input(32, e);
    }
    EXPECT_EQ(rb->finished, 0);
    room = f.conn.direct_input();
    ASSERT_EQ(room.size(), 2u) << "the body's last 2 bytes";
    std::memset(room.data(), 'd', 2);
    f.conn.on_direct_input(2, e);
    EXPECT_EQ(rb->got, std::string(10, 'a') + std::string(32, 'b') + std::string(32, 'c') + std::string(226, 'd'));
    EXPECT_EQ(rb->finished, 1);
    EXPECT_TRUE(f.conn.direct_input().empty()) << "after the body: parsed as requests again";
    f.answer_all();
    f.take_output();
    EXPECT_EQ(f.bodies(), std::vector<std::string>{"200 app:/upload:"});
    fake_reactor g; // a chunked body is decoded: never read directly
    g.feed("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false);
    ASSERT_TRUE(g.streams.last);
    g.streams.last->room = true;
    EXPECT_TRUE(g.conn.direct_input().empty());
}

// Bytes the reactor received after the window held the input back (a multishot recv's
// completions already on their way) go to the body at once, not through the stash; the
// input is held again after them, and a later request waits for the body's end.
TEST(Http1Connection, AHeldStreamedBodyTakesBytesThatWereAlreadyReceived) {
    fake_reactor f;
    EXPECT_FALSE(f.conn.takes_input_while_held()) << "no body streams";
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n" + std::string(70, 'a'), false);
    auto rb = f.streams.last;
    ASSERT_TRUE(rb);
    auto e = f.env();
    f.conn.on_data(std::string(10, 'b'), e);
    ASSERT_TRUE(f.conn.has_pending_input()) << "70 untaken, over the window (64)";
    EXPECT_TRUE(f.conn.takes_input_while_held());
    f.conn.on_data(std::string(20, 'c'), e);
    EXPECT_EQ(rb->got, std::string(70, 'a') + std::string(10, 'b') + std::string(20, 'c'));
    EXPECT_TRUE(f.conn.has_pending_input()) << "held again";
    f.conn.on_data(std::string(200, 'd') + "GET /py HTTP/1.1\r\nHost: a\r\n\r\n", e);
    EXPECT_EQ(rb->finished, 1) << "the body's end came in those bytes";
    EXPECT_EQ(rb->got.size(), 300u);
    EXPECT_FALSE(f.conn.takes_input_while_held()) << "after the body: the next request is parsed as ever";
    fake_reactor g; // a chunked body is decoded from the reactor's bytes in order: the stash keeps them
    g.feed("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false);
    EXPECT_FALSE(g.conn.takes_input_while_held());
}

TEST(Http1Connection, ExpectContinueOnTheAppsFirstRead) {
    fake_reactor f;
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n", false);
    ASSERT_EQ(f.batch.size(), 1u);
    f.take_output();
    EXPECT_TRUE(f.wire.empty()) << "no 100 before the app asks for the body";
    f.send(fake_reactor::message(f.batch[0], app_response::part_read_more));
    f.take_output();
    EXPECT_EQ(f.wire, "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(Http1Connection, AnswerBeforeTheStreamedBodyEndsClosesAfterIt) {
    fake_reactor f;
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\nxx", false);
    auto rb = f.streams.last;
    f.answer_all();
    f.take_output();
    EXPECT_EQ(f.bodies().size(), 1u);
    EXPECT_EQ(rb->failed, 1);
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, StreamedChunkedBodyOverTheLimitFailsTheStream) {
    fake_reactor f; // max_body 1000
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false);
    auto rb = f.streams.last;
    ASSERT_TRUE(rb);
    f.feed("3e9\r\n", false);
    EXPECT_EQ(rb->failed, 1);
    EXPECT_EQ(rb->why, body_error::too_large);
    f.answer_all(); // the app answers (its read raised 413)
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, SmallBodiesAndSyncRoutesAreReadWhole) {
    fake_reactor f;
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\n", false);
    EXPECT_TRUE(f.batch.empty()) << "under stream_body_above: read whole first";
    f.feed(std::string(50, 'q'), false);
    ASSERT_EQ(f.batch.size(), 1u);
    EXPECT_FALSE(f.batch[0].streamed_body);
    fake_reactor g;
    g.feed("POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\n", false);
    EXPECT_TRUE(g.batch.empty()) << "a route that does not stream bodies reads them whole";
}

TEST(Http1Connection, StreamedBodyOfARequestWithoutPersistenceIsReadToItsEnd) {
    for (const char* head : {"POST /upload HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 300\r\n\r\n",
                             "POST /upload HTTP/1.0\r\nContent-Length: 300\r\n\r\n"}) {
        fake_reactor f;
        f.feed(head, false);
        ASSERT_EQ(f.batch.size(), 1u) << head;
        auto rb = f.streams.last;
        std::string body(300, 'c');
        for (size_t off = 0; off < body.size(); off += 50) {
            rb->taken = rb->got.size(); // the app keeps up
            f.feed(std::string_view(body).substr(off, 50), false);
        }
        EXPECT_EQ(rb->got, body) << head;
        EXPECT_EQ(rb->finished, 1) << head;
        EXPECT_FALSE(f.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n", false)) << "nothing after the request is read";
        f.answer_all();
        f.take_output();
        EXPECT_NE(f.wire.find("Connection: close"), std::string::npos);
        EXPECT_TRUE(f.conn.close_after_flush());
    }
}

TEST(Http1Connection, StreamedBodyStillArrivesWhileTheResponseStreams) {
    fake_reactor f; // the app starts its (closing) response before it has read the body
    f.feed("POST /upload HTTP/1.0\r\nContent-Length: 200\r\n\r\n", false);
    auto rb = f.streams.last;
    dispatch::app_request r = f.batch[0];
    f.send(head_part(r, -1));
    f.send(body_part(r, "progress "));
    f.feed(std::string(200, 'd'), false);
    EXPECT_EQ(rb->got.size(), 200u);
    EXPECT_EQ(rb->finished, 1);
    f.send(body_part(r, "done", app_response::part_end));
    f.take_output();
    EXPECT_TRUE(f.wire.ends_with("progress done")) << f.wire;
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, EofMidStreamedBodyFailsItAsADisconnect) {
    fake_reactor f;
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\nxx", false);
    auto rb = f.streams.last;
    auto e = f.env();
    f.conn.end_input(e);
    EXPECT_EQ(rb->failed, 1);
    EXPECT_EQ(rb->why, body_error::disconnect) << "not a 408 after the body timeout";
}

TEST(Http1Connection, EofAfterAWholeBodyReadOverTheWindowStillDeliversIt) {
    fake_reactor f; // the client sent all 300 bytes, then half-closed; 100 were untaken
    std::string body(300, 'h');
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n" + body.substr(0, 100), false);
    f.feed(body.substr(100), false); // 100 untaken >= the window (64): the read still arrives
    auto rb = f.streams.last;
    auto e = f.env();
    f.conn.end_input(e);
    EXPECT_EQ(f.conn.input(), input_state::ended) << "nothing was held: the read over the window arrived";
    EXPECT_FALSE(f.conn.nothing_owed()) << "the reactor must not close on the EOF yet";
    EXPECT_EQ(rb->failed, 0) << "its bytes are all here";
    EXPECT_EQ(rb->got, body);
    EXPECT_EQ(rb->finished, 1);
}

TEST(Http1Connection, EofWhileHeldBackMidBodyFailsItOnceTheAppCatchesUp) {
    fake_reactor f; // 300 of 500 bytes, held back over the window, then the client half-closes
    std::string body(300, 'k');
    f.feed("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\n" + body.substr(0, 100), false);
    f.feed(body.substr(100), false);
    auto rb = f.streams.last;
    ASSERT_TRUE(f.conn.has_pending_input());
    auto e = f.env();
    f.conn.end_input(e);
    EXPECT_EQ(f.conn.input(), input_state::held_back_ended) << "held bytes are still parsed after the EOF";
    EXPECT_EQ(rb->failed, 0) << "the app reads what came first";
    rb->taken = rb->got.size();
    f.send(fake_reactor::message(f.batch[0], app_response::part_read_more));
    f.conn.pump(e);
    EXPECT_EQ(rb->got, body);
    EXPECT_EQ(rb->failed, 1);
    EXPECT_EQ(rb->why, body_error::disconnect);
}

} // namespace
} // namespace ringbolt::http
