// HTTP/1.1 requests in (http1_connection on the fake reactor of http1_fake_reactor.hpp):
// parsing at any read boundary, routing and native answers, what an app request carries
// and whose buffers it reuses, and the errors that answer once and close.
#include "tests/unit/http/http1_fake_reactor.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

using namespace http1_test;

TEST(Http1Connection, NativeRouteAnsweredWithoutApp) {
    fake_reactor f;
    f.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n", false);
    EXPECT_TRUE(f.batch.empty());
    EXPECT_EQ(f.bodies(), std::vector<std::string>{"200 native"});
    EXPECT_TRUE(f.conn.idle());
}

TEST(Http1Connection, AppRequestCarriesEverything) {
    fake_reactor f;
    f.feed("POST /py?x=1&y=2 HTTP/1.1\r\nHost: a\r\nX-Test: v\r\nContent-Length: 4\r\n\r\nbody", false);
    ASSERT_EQ(f.batch.size(), 1u);
    const dispatch::app_request& r = f.batch[0];
    EXPECT_EQ(r.conn_slot, 7u);
    EXPECT_EQ(r.conn_gen, 3u);
    EXPECT_EQ(r.method.in(r.data), "POST");
    EXPECT_EQ(r.path.in(r.data), "/py");
    EXPECT_EQ(r.query.in(r.data), "x=1&y=2");
    EXPECT_EQ(r.body.in(r.data), "body");
    ASSERT_EQ(r.headers.size(), 6u);
    EXPECT_EQ(r.headers[2].in(r.data), "X-Test");
    EXPECT_EQ(r.headers[3].in(r.data), "v");
    EXPECT_GE(r.data.capacity() - r.data.size(), dispatch::app_request_padding);
    EXPECT_EQ(f.conn.outstanding(), 1u);
    EXPECT_EQ(f.conn.deadline(), 0u); // no read deadline while the app works
}

// An answered batch's request buffers are reused by the next requests (recycle_batch):
// the next request's bytes go into the same buffer, with no allocation. A request whose
// bytes do not fit gets a larger buffer, the spare one notwithstanding.
TEST(Http1Connection, AnsweredBatchBuffersAreReusedByTheNextRequests) {
    fake_reactor f;
    f.feed("POST /py?a=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n20", false);
    ASSERT_EQ(f.batch.size(), 1u);
    const char* first = f.batch[0].data.data();
    f.dispatcher.recycle_batch();
    f.feed("POST /py?a=2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n30\r\n0\r\n\r\n", false);
    ASSERT_EQ(f.batch.size(), 1u);
    EXPECT_EQ(f.batch[0].data.data(), first);
    EXPECT_EQ(f.batch[0].query.in(f.batch[0].data), "a=2");
    EXPECT_EQ(f.batch[0].body.in(f.batch[0].data), "30");
    f.dispatcher.recycle_batch();
    std::string big(900, 'x');
    f.feed("POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\n" + big, false);
    ASSERT_EQ(f.batch.size(), 1u);
    EXPECT_EQ(f.batch[0].body.in(f.batch[0].data), big);
    EXPECT_GE(f.batch[0].data.capacity() - f.batch[0].data.size(), dispatch::app_request_padding);
}

// A request the application keeps past its batch (an async handler's, an ASGI app's: the
// bridge moves it out, so recycle_batch finds nothing to keep) gives its buffers back when
// it dies (return_request_buffers), and the next request's copy goes into them on this
// thread, though the dispatcher's own spares are empty. A large body's buffer is not
// taken (it goes to the body buffers' pool as before).
TEST(Http1Connection, AKeptRequestsBuffersServeTheNextRequests) {
    fake_reactor f;
    f.feed("POST /py?a=1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n20", false);
    ASSERT_EQ(f.batch.size(), 1u);
    dispatch::app_request kept = std::move(f.batch[0]); // what the bridge's detach does
    f.dispatcher.recycle_batch();                       // nothing left in the batch entry to keep
    const char* data = kept.data.data();
    const dispatch::span32* spans = kept.headers.data();
    dispatch::return_request_buffers(kept); // the Request died
    EXPECT_TRUE(kept.data.empty());
    f.feed("GET /py?a=2 HTTP/1.1\r\nHost: a\r\n\r\n", false);
    ASSERT_EQ(f.batch.size(), 1u);
    EXPECT_EQ(f.batch[0].data.data(), data);
    EXPECT_EQ(f.batch[0].headers.data(), spans);
    EXPECT_EQ(f.batch[0].query.in(f.batch[0].data), "a=2");
    ASSERT_EQ(f.batch[0].headers.size(), 2u);
    EXPECT_EQ(f.batch[0].headers[1].in(f.batch[0].data), "a");
    f.dispatcher.recycle_batch();

    // The dispatcher's own spares come first; a large body's buffer is not kept here.
    f.feed("GET /py?a=3 HTTP/1.1\r\nHost: a\r\n\r\n", false);
    ASSERT_EQ(f.batch.size(), 1u);
    EXPECT_EQ(f.batch[0].data.data(), data); // the dispatcher's spare, recycled above
    dispatch::app_request big = std::move(f.batch[0]);
    f.dispatcher.recycle_batch();
    big.data.reserve(size_t{256} * 1024);
    dispatch::return_request_buffers(big);
    EXPECT_GE(big.data.capacity(), size_t{256} * 1024); // not taken
}

TEST(Http1Connection, TypedParams) {
    fake_reactor f;
    f.feed("GET /users/-42 HTTP/1.1\r\nHost: a\r\n\r\n", false);
    ASSERT_EQ(f.batch.size(), 1u);
    ASSERT_EQ(f.batch[0].num_params, 1u);
    EXPECT_EQ(f.batch[0].params[0].type, dispatch::param_type::integer);
    EXPECT_EQ(f.batch[0].params[0].int_value, -42);
}

// The same byte stream, cut at every offset into two reads, gives the same responses.
TEST(Http1Connection, SplitAtEveryOffset) {
    const std::string stream = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                               "POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                               "POST /py HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                               "\r\nGET /users/5 HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::vector<std::string> expected = {"200 native", "200 app:/py:hello", "200 app:/py:abc",
                                               "200 app:/users/5:"};
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        fake_reactor f;
        f.feed(std::string_view(stream).substr(0, cut));
        f.feed(std::string_view(stream).substr(cut));
        EXPECT_EQ(f.bodies(), expected) << "cut at " << cut;
        EXPECT_TRUE(f.conn.idle()) << "cut at " << cut;
    }
    fake_reactor one_by_one;
    for (char c : stream) {
        one_by_one.feed(std::string_view(&c, 1));
    }
    EXPECT_EQ(one_by_one.bodies(), expected);
}

// A head is parsed once, whatever the read boundaries: a body (chunked or with a
// Content-Length) arriving over later reads is joined to the head parsed when it came,
// not to a second parse. A head cut by a read costs one try that stops where the bytes
// do (incomplete), then the parse once its end is there. http1_head_parses counts the
// parser's runs.
TEST(Http1Connection, AHeadIsParsedOnceWhateverTheReadBoundaries) {
    const std::string chunked_head = "POST http://a/py?x=1 HTTP/1.1\r\nHost: a\r\nX-One: 1\r\n"
                                     "Transfer-Encoding: chunked\r\nX-Two: two\r\n\r\n";
    const std::string length_head =
        "POST /py?y=2 HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nContent-Length: 5\r\nX-Two: two\r\n\r\n";
    struct split_case {
        std::string request;
        size_t head_size;
        std::string path, query, body;
    };
    const split_case cases[] = {
        {chunked_head + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", chunked_head.size(), "/py", "x=1", "abcde"},
        {length_head + "hello", length_head.size(), "/py", "y=2", "hello"},
    };
    for (const split_case& c : cases) {
        for (size_t cut = 1; cut < c.request.size(); ++cut) {
            fake_reactor f;
            f.feed(std::string_view(c.request).substr(0, cut), false);
            f.feed(std::string_view(c.request).substr(cut), false);
            ASSERT_EQ(f.batch.size(), 1u) << c.request << " cut at " << cut;
            const dispatch::app_request& r = f.batch[0];
            EXPECT_EQ(r.path.in(r.data), c.path) << "cut at " << cut;
            EXPECT_EQ(r.query.in(r.data), c.query) << "cut at " << cut;
            EXPECT_EQ(r.body.in(r.data), c.body) << "cut at " << cut;
            ASSERT_EQ(r.headers.size(), 8u) << "cut at " << cut;
            EXPECT_EQ(r.headers[6].in(r.data), "X-Two") << "cut at " << cut;
            EXPECT_EQ(r.headers[7].in(r.data), "two") << "cut at " << cut;
            // A cut inside the head: one incomplete try, then the one parse.
            EXPECT_EQ(f.counters.http1_head_parses.get(), cut < c.head_size ? 2u : 1u)
                << c.request << " cut at " << cut;
            EXPECT_EQ(f.counters.requests.get(), 1u);
        }
        fake_reactor whole; // in one read, as HttpArena's clients write it: one parse
        whole.feed(c.request + c.request, false);
        ASSERT_EQ(whole.batch.size(), 2u);
        EXPECT_EQ(whole.batch[1].body.in(whole.batch[1].data), c.body);
        EXPECT_EQ(whole.counters.http1_head_parses.get(), 2u);
        fake_reactor bytewise; // a byte at a time: still one try and one parse a request
        for (int i = 0; i < 2; ++i) {
            for (char b : c.request) {
                bytewise.feed(std::string_view(&b, 1));
            }
        }
        EXPECT_EQ(bytewise.bodies(),
                  (std::vector<std::string>{"200 app:" + c.path + ":" + c.body, "200 app:" + c.path + ":" + c.body}));
        EXPECT_EQ(bytewise.counters.http1_head_parses.get(), 4u);
    }
}

TEST(Http1Connection, ErrorsAnswerOnceThenIgnoreInput) {
    struct error_case {
        const char* raw;
        const char* status;
    };
    const error_case cases[] = {
        {"BAD\r\n\r\n", "400"},
        {"GET / HTTP/1.1\r\n\r\n", "400"},
        {"POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", "413"},
        {"POST /py HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", "413"},
        {"POST /py HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "400"},
        {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", "505"},
    };
    for (const auto& c : cases) {
        fake_reactor f;
        f.feed(c.raw);
        auto b = f.bodies();
        ASSERT_EQ(b.size(), 1u) << c.raw;
        EXPECT_EQ(b[0].substr(0, 3), c.status) << c.raw;
        EXPECT_NE(f.wire.find("Connection: close"), std::string::npos);
        EXPECT_TRUE(f.conn.close_after_flush());
        EXPECT_FALSE(f.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n")) << "input after an error must be ignored";
        EXPECT_EQ(f.bodies().size(), 1u);
    }
}

TEST(Http1Connection, NotFoundAndMethodNotAllowed) {
    fake_reactor f;
    f.feed("GET /nope HTTP/1.1\r\nHost: a\r\n\r\nDELETE /users/1 HTTP/1.1\r\nHost: a\r\n\r\n");
    // RFC 9457 problems, as every error answer of the app.
    EXPECT_EQ(f.bodies(), (std::vector<std::string>{"404 " + std::string(problem_not_found),
                                                    "405 " + std::string(problem_method_not_allowed)}));
    EXPECT_NE(f.wire.find("Allow: GET, HEAD\r\n"), std::string::npos);
    EXPECT_NE(f.wire.find("Content-Type: application/problem+json\r\n"), std::string::npos);
    EXPECT_FALSE(f.conn.closing());
}

TEST(Http1Connection, EmptyLinesBetweenRequestsLeaveTheConnectionIdle) {
    {
        fake_reactor f; // a stray CRLF after a request: idle, keep-alive clock, quiet close
        f.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n");
        EXPECT_EQ(f.bodies(), std::vector<std::string>{"200 native"});
        EXPECT_TRUE(f.conn.idle());
        EXPECT_EQ(f.conn.deadline(), 100u + f.limits.keep_alive_timeout_s);
        auto e = f.env();
        f.conn.on_timeout(e);
        EXPECT_FALSE(f.conn.has_output());
        EXPECT_TRUE(f.conn.close_after_flush());
    }
    {
        fake_reactor f; // CR and LF in separate reads, then a request after the empty lines
        f.feed("POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r");
        EXPECT_FALSE(f.conn.idle());
        f.feed("\n");
        EXPECT_TRUE(f.conn.idle());
        f.feed("\r\n\r\nGET /py HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_EQ(f.bodies(), (std::vector<std::string>{"200 app:/py:x", "200 app:/py:"}));
        EXPECT_TRUE(f.conn.idle());
    }
    {
        fake_reactor f; // a bare CR is still an error
        f.feed("\r\r\n");
        EXPECT_EQ(f.bodies().size(), 1u);
        EXPECT_EQ(f.bodies()[0].substr(0, 3), "400");
    }
}

TEST(Http1Connection, ConnectIsRefusedAndWhatFollowsIsNotParsed) {
    fake_reactor f; // bytes after CONNECT belong to the tunnel the client asked for
    f.feed("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(f.bodies(),
              std::vector<std::string>{"501 " + std::string(problem_of(http_error::method_not_implemented))});
    EXPECT_NE(f.wire.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(f.conn.close_after_flush());
    EXPECT_TRUE(f.batch.empty());
}

TEST(Http1Connection, Http2OnlyListenerRefusesHttp1WithA505ThenCloses) {
    // --http 2: the first HTTP/1.x request (Upgrade: h2c too) is answered 505 with the
    // problem naming the cause, nothing reaches the app, what follows is not parsed.
    for (const char* raw : {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /py HTTP/1.0\r\n\r\n",
                            "POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
                            "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\n", // would stream
                            "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                            "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"}) {
        fake_reactor f;
        f.http1 = false;
        f.feed(std::string(raw) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_EQ(f.bodies(), std::vector<std::string>{"505 " + std::string(problem_http2_only)}) << raw;
        EXPECT_NE(f.wire.find("Content-Type: application/problem+json\r\n"), std::string::npos) << raw;
        EXPECT_NE(f.wire.find("Connection: close"), std::string::npos) << raw;
        EXPECT_TRUE(f.conn.close_after_flush() && f.batch.empty() && f.counters.requests.get() == 1) << raw;
    }
    fake_reactor both; // a listener that serves both answers the same request
    both.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(both.bodies(), std::vector<std::string>{"200 native"});
}

} // namespace
} // namespace ringbolt::http
