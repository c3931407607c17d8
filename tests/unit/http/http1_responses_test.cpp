// HTTP/1.1 responses out (http1_connection on the fake reactor of http1_fake_reactor.hpp):
// the app's answers as messages, whole or streamed, their framing on HTTP/1.1 and 1.0,
// compression's minimum, pipelined answers kept in request order, producers told of failures.
#include "tests/unit/http/http1_fake_reactor.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

using namespace http1_test;

// With compression on, answers under its minimum size take the plain way (framed whole,
// no plan): the same bytes as before, no coding and no Vary; at the minimum size and over
// they are compressed as before. Native answers and the app's, on both sides.
TEST(Http1Connection, CompressionLeavesAnswersUnderItsMinimumAlone) {
    fake_reactor f;
    f.routes.features = std::make_unique<response_features>();
    ASSERT_EQ(configure_compression(*f.routes.features, 64, {"gzip"}, {-1}, {}), "");
    f.add("/small", method_get, true, "ok");
    f.add("/large", method_get, true, "");
    f.routes.targets.back().response.body = std::string(200, 'n');
    const std::string gzip = "Host: a\r\nAccept-Encoding: gzip\r\n\r\n";
    f.feed("GET /small HTTP/1.1\r\n" + gzip, false);
    EXPECT_EQ(f.bodies(), std::vector<std::string>{"200 ok"});
    EXPECT_EQ(f.wire.find("Content-Encoding"), std::string::npos);
    EXPECT_EQ(f.wire.find("Vary"), std::string::npos);
    f.wire.clear();
    f.feed("GET /large HTTP/1.1\r\n" + gzip, false);
    EXPECT_NE(f.wire.find("Content-Encoding: gzip\r\n"), std::string::npos) << f.wire;
    EXPECT_NE(f.wire.find("Vary: Accept-Encoding\r\n"), std::string::npos) << f.wire;
    f.wire.clear();
    for (size_t size : {size_t{2}, size_t{63}, size_t{64}, size_t{300}}) {
        f.feed("GET /py HTTP/1.1\r\n" + gzip, false);
        ASSERT_EQ(f.batch.size(), 1u);
        app_response m = fake_reactor::message(f.batch[0], app_response::part_head | app_response::part_body |
                                                               app_response::part_end);
        m.body = std::string(size, 'a');
        m.start.fields = "Content-Type: text/plain; charset=utf-8\r\n";
        m.start.content_length = static_cast<int64_t>(size);
        f.batch.clear();
        f.send(std::move(m));
        f.take_output();
        bool coded = size >= 64;
        EXPECT_EQ(f.wire.find("Content-Encoding: gzip\r\n") != std::string::npos, coded) << size << f.wire;
        EXPECT_EQ(f.wire.find("Vary: Accept-Encoding\r\n") != std::string::npos, coded) << size;
        if (!coded) {
            EXPECT_EQ(f.bodies(), std::vector<std::string>{"200 " + std::string(size, 'a')});
        }
        f.wire.clear();
    }
}

TEST(Http1Connection, PipelinedResponsesStayInOrderWhateverTheAnswerOrder) {
    fake_reactor f;
    auto e = f.env();
    f.conn.on_data("GET /py HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
                   "POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nz",
                   e);
    ASSERT_EQ(f.batch.size(), 2u);
    EXPECT_FALSE(f.conn.has_output()); // the native answer waits for the first app answer
    std::vector<dispatch::app_request> reqs;
    reqs.swap(f.batch);
    f.answer(reqs[1]); // the third request's answer comes first
    EXPECT_FALSE(f.conn.has_output());
    f.answer(reqs[0]);
    f.take_output();
    EXPECT_EQ(f.bodies(), (std::vector<std::string>{"200 app:/py:", "200 native", "200 app:/py:z"}));
}

// Found by connection_fuzz: when the connection gives up on a streamed response the
// producer has not finished (a body over its declared length, a second head), the
// producer is told once, at once; it used to be told never and kept producing.
TEST(Http1Connection, ProducerOfAFailedResponseIsToldOnce) {
    struct failure_case {
        const char* name;
        int64_t declared; ///< the first head's Content-Length (-1: none)
        const char* body; ///< a body piece after the head ("" for none)
        bool second_head;
    };
    const failure_case cases[] = {
        {"body over the declared length", 3, "toolong", false},
        {"a second head", -1, "", true},
        {"a second head after a body", 10, "abc", true},
    };
    for (const auto& c : cases) {
        fake_reactor f;
        f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\nGET /py HTTP/1.1\r\nHost: a\r\n\r\n", false);
        ASSERT_EQ(f.batch.size(), 2u);
        auto first = std::make_shared<counting_control>();
        auto second = std::make_shared<counting_control>();
        app_response h = fake_reactor::message(f.batch[0], app_response::part_head);
        h.start.content_length = c.declared;
        h.stream = first;
        f.send(std::move(h));
        if (*c.body != '\0') {
            app_response b = fake_reactor::message(f.batch[0], app_response::part_body);
            b.body = c.body;
            f.send(std::move(b));
        }
        if (c.second_head) {
            app_response h2 = fake_reactor::message(f.batch[0], app_response::part_head);
            h2.stream = second;
            f.send(std::move(h2));
            EXPECT_EQ(second->closed, 1) << c.name;
        }
        EXPECT_EQ(first->closed, 1) << c.name;
        f.take_output();
        EXPECT_TRUE(f.conn.close_after_flush()) << c.name;
        f.conn.release();
        f.conn.release();
        EXPECT_EQ(first->closed, 1) << c.name;
        EXPECT_EQ(second->closed, c.second_head ? 1 : 0) << c.name;
    }
}

TEST(Http1Connection, StreamedResponseIsChunkedOn11AndCloseDelimitedOn10) {
    struct stream_case {
        const char* request;
        const char* framing_header; ///< expected in the head
        bool closes;
    };
    const stream_case cases[] = {
        {"GET /py HTTP/1.1\r\nHost: a\r\n\r\n", "Transfer-Encoding: chunked\r\n", false},
        {"GET /py HTTP/1.0\r\n\r\n", "Connection: close\r\n", true},
        {"GET /py HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "Connection: close\r\n", true},
    };
    for (const auto& c : cases) {
        fake_reactor f;
        f.feed(c.request, false);
        ASSERT_EQ(f.batch.size(), 1u) << c.request;
        dispatch::app_request r = f.batch[0];
        auto stream = std::make_shared<counting_control>();
        app_response h = head_part(r, -1);
        h.stream = stream;
        f.send(std::move(h));
        f.send(body_part(r, "hello "));
        f.send(body_part(r, "world", app_response::part_end));
        f.take_output();
        EXPECT_NE(f.wire.find(c.framing_header), std::string::npos) << c.request << f.wire;
        EXPECT_EQ(f.wire.find("Content-Length"), std::string::npos) << c.request;
        if (c.closes) {
            EXPECT_TRUE(f.wire.ends_with("hello world")) << f.wire;
            EXPECT_TRUE(f.conn.close_after_flush());
        } else {
            EXPECT_EQ(f.bodies(), std::vector<std::string>{"200 hello world"});
            EXPECT_TRUE(f.wire.ends_with("0\r\n\r\n"));
            EXPECT_TRUE(f.conn.idle());
        }
        EXPECT_EQ(stream->closed, 0);
    }
}

TEST(Http1Connection, DeclaredLengthIsHeldToAndHeadGetsNoBody) {
    {
        fake_reactor f; // more bytes than declared: the response is broken, the connection closes
        f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\n", false);
        dispatch::app_request r = f.batch[0];
        f.send(head_part(r, 3));
        f.send(body_part(r, "four", app_response::part_end));
        f.take_output();
        EXPECT_TRUE(f.conn.close_after_flush());
        EXPECT_EQ(f.wire.find("four"), std::string::npos);
    }
    {
        fake_reactor f; // fewer bytes than declared: close after what was sent
        f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\n", false);
        dispatch::app_request r = f.batch[0];
        f.send(head_part(r, 10));
        f.send(body_part(r, "abc", app_response::part_end));
        EXPECT_TRUE(f.conn.close_after_flush());
    }
    {
        fake_reactor f; // HEAD: Content-Length of the representation, no body bytes
        f.feed("HEAD /py HTTP/1.1\r\nHost: a\r\n\r\n", false);
        f.answer_all();
        f.take_output();
        EXPECT_NE(f.wire.find("Content-Length: 8\r\n"), std::string::npos) << "of \"app:/py:\"";
        EXPECT_TRUE(f.wire.ends_with("\r\n\r\n")) << f.wire;
        EXPECT_TRUE(f.conn.idle());
    }
}

TEST(Http1Connection, PipelinedStreamsKeepRequestOrder) {
    fake_reactor f;
    f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET /py HTTP/1.1\r\nHost: a\r\n\r\n",
           false);
    ASSERT_EQ(f.batch.size(), 2u);
    dispatch::app_request first = f.batch[0];
    dispatch::app_request third = f.batch[1];
    f.send(head_part(third, -1)); // the third streams before the first has started
    f.send(body_part(third, "third", app_response::part_end));
    f.send(head_part(first, -1));
    f.send(body_part(first, "fir"));
    f.take_output();
    EXPECT_EQ(f.wire.find("third"), std::string::npos) << "a later response overtook an earlier one";
    f.send(body_part(first, "st", app_response::part_end));
    f.take_output();
    EXPECT_EQ(f.bodies(), (std::vector<std::string>{"200 first", "200 native", "200 third"}));
    EXPECT_TRUE(f.conn.idle());
}

TEST(Http1Connection, AbortMidStreamEndsWithoutTerminatorAndTellsLaterProducers) {
    fake_reactor f;
    f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\nGET /py HTTP/1.1\r\nHost: a\r\n\r\n", false);
    dispatch::app_request a = f.batch[0];
    dispatch::app_request b = f.batch[1];
    auto later = std::make_shared<counting_control>();
    app_response hb = head_part(b, -1);
    hb.stream = later;
    f.send(std::move(hb));
    f.send(head_part(a, -1));
    f.send(body_part(a, "partial"));
    f.send(fake_reactor::message(a, app_response::part_abort));
    f.take_output();
    EXPECT_EQ(f.wire.find("0\r\n\r\n"), std::string::npos);
    EXPECT_TRUE(f.conn.close_after_flush());
    EXPECT_EQ(later->closed, 1) << "the second response can never go out: its producer must stop";
    f.conn.release();
    EXPECT_EQ(later->closed, 1) << "told once";
}

TEST(Http1Connection, ReleaseTellsUnfinishedStreams) {
    fake_reactor f;
    f.feed("GET /py HTTP/1.1\r\nHost: a\r\n\r\n", false);
    auto s = std::make_shared<counting_control>();
    app_response h = head_part(f.batch[0], -1);
    h.stream = s;
    f.send(std::move(h));
    f.conn.release();
    EXPECT_EQ(s->closed, 1);
}

} // namespace
} // namespace ringbolt::http
