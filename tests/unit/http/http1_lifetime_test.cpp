// An HTTP/1.1 connection's lifetime (http1_connection on the fake reactor of
// http1_fake_reactor.hpp): keep-alive and close, the header, body and keep-alive clocks,
// input held back by the pipelining cap, drain, and what an idle connection keeps.
#include "tests/unit/http/http1_fake_reactor.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

using namespace http1_test;

TEST(Http1Connection, ConnectionCloseStopsReading) {
    fake_reactor f;
    f.feed("GET /py HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(f.bodies(), std::vector<std::string>{"200 app:/py:"});
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, Http10KeepAliveRules) {
    fake_reactor f;
    f.feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_NE(f.wire.find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_FALSE(f.conn.closing());
    f.feed("GET / HTTP/1.0\r\n\r\n");
    EXPECT_NE(f.wire.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, Timeouts) {
    {
        fake_reactor f; // a head that never completes: 408, then close
        f.feed("GET / HTTP/1.1\r\nHo");
        EXPECT_EQ(f.conn.deadline(), 100u + f.limits.header_timeout_s);
        f.now = f.conn.deadline();
        auto e = f.env();
        f.conn.on_timeout(e);
        f.take_output();
        EXPECT_EQ(f.bodies(), std::vector<std::string>{timeout_answer});
        EXPECT_TRUE(f.conn.close_after_flush());
    }
    {
        fake_reactor f; // idle keep-alive: closed silently
        f.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_EQ(f.conn.deadline(), 100u + f.limits.keep_alive_timeout_s);
        auto e = f.env();
        f.conn.on_timeout(e);
        EXPECT_FALSE(f.conn.has_output());
        EXPECT_TRUE(f.conn.close_after_flush());
    }
    {
        fake_reactor f; // the header clock does not restart with each byte (slowloris)
        f.feed("G");
        uint32_t d = f.conn.deadline();
        f.now += 3;
        f.feed("E");
        EXPECT_EQ(f.conn.deadline(), d);
    }
}

// Found by connection_fuzz: once a failed response made the connection only flush and
// close, a half-received request behind it still got a 408 at its deadline, queued
// after the broken response (read as its body, or as the answer to the wrong request).
TEST(Http1Connection, NothingIsQueuedOnceTheConnectionOnlyFlushes) {
    for (bool started : {false, true}) {
        fake_reactor f;
        f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\nGET /py HT", false);
        ASSERT_EQ(f.batch.size(), 1u);
        ASSERT_NE(f.conn.deadline(), 0u); // the partial head's clock
        if (started) {
            app_response h = fake_reactor::message(f.batch[0], app_response::part_head | app_response::part_body);
            h.body = "part";
            f.send(std::move(h));
        }
        f.send(fake_reactor::message(f.batch[0], app_response::part_abort));
        f.take_output();
        ASSERT_TRUE(f.conn.close_after_flush());
        std::string before = f.wire;
        f.now = f.conn.deadline();
        auto e = f.env();
        f.conn.on_timeout(e);
        f.take_output();
        EXPECT_EQ(f.wire, before) << (started ? "after a started response" : "after an unstarted one");
        EXPECT_TRUE(f.conn.close_after_flush());
    }
}

// Found by connection_fuzz: the app's answer left the connection idle with no deadline,
// so a keep-alive client of an app route was never timed out.
TEST(Http1Connection, KeepAliveClockRunsAgainOnceTheAppHasAnswered) {
    fake_reactor f;
    f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\n", false);
    EXPECT_EQ(f.conn.deadline(), 0u); // the app owns the request
    f.now += 3;
    f.answer_all();
    f.take_output();
    ASSERT_TRUE(f.conn.idle());
    EXPECT_EQ(f.conn.deadline(), f.now + f.limits.keep_alive_timeout_s);
    auto e = f.env();
    f.now = f.conn.deadline();
    f.conn.on_timeout(e);
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, TimeoutWhileAppOwnsARequestSendsItsAnswerThen408) {
    fake_reactor f;
    f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\nGET /py HTT", false);
    ASSERT_EQ(f.batch.size(), 1u);
    ASSERT_NE(f.conn.deadline(), 0u) << "a half-sent follower has a header clock";
    f.now = f.conn.deadline();
    auto e = f.env();
    f.conn.on_timeout(e);
    f.take_output();
    EXPECT_TRUE(f.wire.empty()) << "the 408 must wait for the app's answer";
    EXPECT_FALSE(f.conn.close_after_flush());
    f.answer_all();
    f.take_output();
    EXPECT_EQ(f.bodies(), (std::vector<std::string>{"200 app:/py:", timeout_answer}));
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, SlowBodyBelowTheMinimumRateIs408) {
    fake_reactor f;
    f.limits.body_timeout_s = 2;
    f.limits.min_body_rate = 100;
    f.feed("POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\nab");
    for (int i = 0; i < 4 && !f.conn.closing(); ++i) {
        f.now += 1;
        f.feed("c"); // one byte a second, well below 100 B/s
    }
    EXPECT_EQ(f.bodies(), std::vector<std::string>{timeout_answer});
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, InputHeldBackByTheServerRunsNoReadClock) {
    fake_reactor f; // 64 requests in the app: the 65th waits in the tail, not the client's fault
    std::string pipeline;
    for (size_t i = 0; i <= max_outstanding_per_connection; ++i) {
        pipeline += "GET /py HTTP/1.1\r\nHost: a\r\n\r\n";
    }
    auto e = f.env();
    f.conn.on_data(pipeline, e);
    EXPECT_EQ(f.batch.size(), max_outstanding_per_connection);
    EXPECT_TRUE(f.conn.has_pending_input());
    EXPECT_EQ(f.conn.deadline(), 0u) << "a header clock would answer the held request 408";
    f.now += 60;
    f.answer_all();
    auto e2 = f.env();
    f.conn.pump(e2);
    f.answer_all();
    f.take_output();
    EXPECT_EQ(f.bodies().size(), max_outstanding_per_connection + 1);
    EXPECT_EQ(f.wire.find("408"), std::string::npos);
}

TEST(Http1Connection, DrainGivesIdleConnectionsAGraceThenClosesThem) {
    for (bool served_one : {true, false}) {
        fake_reactor f; // idle (after a request, or fresh): never closed at once (the
                        // client's next request may be on the wire); a grace instead
        if (served_one) {
            f.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        }
        EXPECT_FALSE(f.conn.begin_drain(f.now, 1));
        EXPECT_EQ(f.conn.deadline(), f.now + 1); // passed a second later: at least one full second of grace
        fake_reactor g = {};                     // the same connection: a request in the grace is answered with close
        if (served_one) {
            g.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        }
        g.draining = true; // the reactor's fact, then each connection's grace
        g.conn.begin_drain(g.now, 1);
        g.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_NE(g.wire.find("Connection: close"), std::string::npos);
        EXPECT_TRUE(g.conn.close_after_flush());
        // Nothing in the grace: the sweep's timeout closes it quietly.
        f.now = f.conn.deadline();
        auto e = f.env();
        f.conn.on_timeout(e);
        EXPECT_FALSE(f.conn.has_output());
        EXPECT_TRUE(f.conn.close_after_flush());
    }
    fake_reactor b; // busy: not closed; its answer says close
    auto e = b.env();
    b.conn.on_data("GET /py HTTP/1.1\r\nHost: a\r\n\r\n", e);
    EXPECT_FALSE(b.conn.begin_drain(b.now, 1));
    b.draining = true;
    b.answer_all();
    b.take_output();
    EXPECT_NE(b.wire.find("Connection: close"), std::string::npos);
}

TEST(Http1Connection, DrainClosesOnlyAfterTheLastOwedResponse) {
    fake_reactor f;
    f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\nGET /py HTTP/1.1\r\nHost: a\r\n\r\n", false);
    ASSERT_EQ(f.batch.size(), 2u);
    std::vector<dispatch::app_request> reqs;
    reqs.swap(f.batch);
    EXPECT_FALSE(f.conn.begin_drain(f.now, 1));
    f.draining = true;
    f.answer(reqs[0]);
    f.take_output();
    EXPECT_EQ(f.wire.find("Connection: close"), std::string::npos)
        << "the pipelined follower still needs the connection";
    f.answer(reqs[1]);
    f.take_output();
    EXPECT_EQ(f.bodies().size(), 2u);
    EXPECT_NE(f.wire.find("Connection: close"), std::string::npos) << "the last response of a drain says close";
    EXPECT_TRUE(f.conn.close_after_flush());
}

TEST(Http1Connection, IdleConnectionHoldsNoLargeBuffers) {
    fake_reactor f;
    std::string big = "POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\n" + std::string(900, 'x');
    f.feed(std::string_view(big).substr(0, 100));
    f.feed(std::string_view(big).substr(100));
    EXPECT_TRUE(f.conn.idle());
    EXPECT_LE(sizeof(http1_connection), 512u) << "per-connection state must stay small (10k idle connections)";
}

// The input state is the protocol's (the reactor asks it): open, held back by the
// pipelining cap, released by a pump once answers went out, ended once, and open again
// for the slot's next connection.
TEST(Http1Connection, InputStateMovesOpenHeldReleasedEndedAndResetsOnOpen) {
    fake_reactor f;
    EXPECT_EQ(f.conn.input(), input_state::open);
    std::string many;
    for (size_t i = 0; i < max_outstanding_per_connection + 3; ++i) {
        many += "GET /py HTTP/1.1\r\nHost: a\r\n\r\n";
    }
    f.feed(many, false);
    EXPECT_EQ(f.batch.size(), max_outstanding_per_connection);
    EXPECT_EQ(f.conn.input(), input_state::held_back);
    EXPECT_TRUE(f.conn.input_held());
    EXPECT_FALSE(f.conn.input_ended());
    f.answer_all();
    auto e = f.env();
    f.conn.pump(e);
    EXPECT_EQ(f.conn.input(), input_state::open) << "the three held requests were parsed";
    EXPECT_EQ(f.batch.size(), 3u);
    f.conn.end_input(e);
    EXPECT_EQ(f.conn.input(), input_state::ended);
    f.conn.end_input(e); // once: a second EOF report changes nothing
    EXPECT_EQ(f.conn.input(), input_state::ended);
    f.conn.open(0, 1, peer_address{}, 0, f.limits);
    EXPECT_EQ(f.conn.input(), input_state::open) << "the slot's next connection reads again";
}

} // namespace
} // namespace ringbolt::http
