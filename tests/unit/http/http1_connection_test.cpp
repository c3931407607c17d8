// The HTTP/1.1 protocol driven by a fake reactor: bytes in, the runtime's dispatcher
// (routing, native answers) on a real route table, app messages back, framed output
// checked. No sockets: this is the layer the fuzzers and split-input tests reach.
#include "http/http1_connection.hpp"
#include "http/problem.hpp"
#include "http/response_features.hpp"

#include "dispatch/dispatcher.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <span>

#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";
/// What a timed-out request gets: its status and the 408 problem body.
const std::string timeout_answer = "408 " + std::string(problem_of(http_error::request_timeout));

/// Everything an output queue holds, as bytes (file segments read with pread).
std::string drain_queue(core::output_queue& q) {
    std::string out;
    core::send_batch b;
    while (q.take_front(b, 8, SIZE_MAX)) {
        for (const core::segment& s : b.segments()) {
            if (s.type == core::segment::kind::file) {
                std::string buf(s.length, '\0');
                ssize_t n = pread(s.file->fd, buf.data(), s.length, static_cast<off_t>(s.file_offset));
                buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
                out += buf;
            } else {
                out += s.bytes();
            }
        }
        b.consume(b.remaining());
        b.reset();
    }
    return out;
}

struct recording_stream final : stream_control {
    uint64_t sent = 0;
    int closed = 0;
    void on_sent(size_t n) noexcept override { sent += n; }
    void on_closed() noexcept override { ++closed; }
};

struct recording_body final : body_stream {
    std::string got;
    int finished = 0;
    int failed = 0;
    body_error why = body_error::disconnect;
    uint64_t taken = 0;
    void push(std::string_view b) noexcept override { got += b; }
    void finish() noexcept override { ++finished; }
    void fail(body_error w) noexcept override {
        ++failed;
        why = w;
    }
    uint64_t unconsumed() const noexcept override { return got.size() - taken; }
    // Room for direct reads when `room` is set (a test writes into it, then commits).
    bool room = false;
    char space[32];
    uint64_t asked = 0;
    std::span<char> write_space(uint64_t max) noexcept override {
        asked = max;
        return room ? std::span<char>(space, std::min<uint64_t>(max, sizeof space)) : std::span<char>{};
    }
    void commit(size_t n) noexcept override { got.append(space, n); }
};

struct fake_streams final : dispatch::body_stream_factory {
    std::shared_ptr<recording_body> last;
    std::shared_ptr<body_stream> make_body_stream(uint32_t, uint32_t, uint64_t) override {
        last = std::make_shared<recording_body>();
        return last;
    }
};

struct fake_reactor {
    dispatch::app_routes routes;
    fake_streams streams;
    connection_limits limits;
    core::core_counters counters;
    dispatch::request_dispatcher dispatcher{routes, nullptr, nullptr, 0, nullptr, &streams};
    std::vector<dispatch::app_request>& batch = dispatcher.batch();
    http1_connection conn;
    uint32_t now = 100;
    bool draining = false;
    std::string wire; ///< everything the connection asked to send

    fake_reactor() {
        add("/", method_get, true, "native");
        add("/py", method_get | method_post, false, "");
        add("/users/{id:int}", method_get, false, "");
        add("/upload", method_post, false, "");
        routes.targets.back().streams_body = true; // an async handler
        limits.max_body = 1000;
        limits.stream_body_above = 100;
        limits.body_window = 64;
        conn.open(7, 3, {}, now, limits);
    }

    void add(const char* pattern, uint16_t methods, bool native, const char* body) {
        uint32_t id = static_cast<uint32_t>(routes.targets.size());
        EXPECT_EQ(routes.table.add(pattern, methods, id), "");
        dispatch::route_target t;
        t.kind = native ? dispatch::target_kind::native : dispatch::target_kind::python;
        t.handler = id;
        t.response.headers = "Content-Type: text/plain\r\n";
        t.response.body = body;
        routes.targets.push_back(t);
    }

    bool http1 = true; ///< false: an HTTP/2-only listener (--http 2)
    protocol_env env() {
        return protocol_env{limits, date, now, draining, counters, dispatcher, SIZE_MAX, nullptr, nullptr, http1};
    }

    /// Feed bytes, then answer every batched request at once ("app:<path>:<body>").
    bool feed(std::string_view bytes, bool answer = true) {
        auto e = env();
        bool taken = conn.on_data(bytes, e);
        if (answer) {
            answer_all();
        }
        take_output();
        return taken;
    }

    void answer_all() {
        std::vector<dispatch::app_request> reqs;
        reqs.swap(batch);
        for (auto& r : reqs) {
            answer(r);
        }
    }

    static app_response message(const dispatch::app_request& r, uint8_t parts) {
        app_response m;
        m.conn_slot = r.conn_slot;
        m.conn_gen = r.conn_gen;
        m.seq = r.seq;
        m.parts = parts;
        return m;
    }

    void send(app_response&& m) {
        auto e = env();
        conn.on_app_message(std::move(m), e);
    }

    void answer(const dispatch::app_request& r) {
        app_response m = message(r, app_response::part_head | app_response::part_body | app_response::part_end);
        m.body = "app:" + std::string(r.path.in(r.data)) + ":" + std::string(r.body.in(r.data));
        m.start.fields = "Content-Type: text/plain; charset=utf-8\r\n";
        m.start.content_length = static_cast<int64_t>(m.body.size());
        send(std::move(m));
    }

    void take_output() { wire += drain_queue(conn.output()); }

    /// Bodies of the responses on the wire, in order (Content-Length or chunked framing).
    std::vector<std::string> bodies() const {
        std::vector<std::string> out;
        size_t pos = 0;
        while (pos < wire.size()) {
            size_t end = wire.find("\r\n\r\n", pos);
            if (end == std::string::npos) {
                break;
            }
            std::string head = wire.substr(pos, end - pos);
            pos = end + 4;
            if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
                std::string body;
                while (true) {
                    size_t le = wire.find("\r\n", pos);
                    if (le == std::string::npos) {
                        return out;
                    }
                    size_t n = std::stoul(wire.substr(pos, le - pos), nullptr, 16);
                    pos = le + 2;
                    if (n == 0) {
                        pos += 2;
                        break;
                    }
                    body += wire.substr(pos, n);
                    pos += n + 2;
                }
                out.push_back(head.substr(9, 3) + " " + body);
                continue;
            }
            size_t cl = head.find("Content-Length: ");
            size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
            out.push_back(head.substr(9, 3) + " " + wire.substr(pos, len));
            pos += len;
        }
        return out;
    }
};

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

TEST(Http1Connection, TypedParams) {
    fake_reactor f;
    f.feed("GET /users/-42 HTTP/1.1\r\nHost: a\r\n\r\n", false);
    ASSERT_EQ(f.batch.size(), 1u);
    ASSERT_EQ(f.batch[0].num_params, 1u);
    EXPECT_EQ(f.batch[0].params[0].type, dispatch::param_type::integer);
    EXPECT_EQ(f.batch[0].params[0].int_value, -42);
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
        auto first = std::make_shared<recording_stream>();
        auto second = std::make_shared<recording_stream>();
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

TEST(Http1Connection, ExpectContinueBeforeBody) {
    fake_reactor f;
    f.feed("POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(f.wire, "HTTP/1.1 100 Continue\r\n\r\n");
    f.feed("abc");
    EXPECT_NE(f.wire.find("app:/py:abc"), std::string::npos);
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

TEST(Http1Connection, IdleConnectionHoldsNoLargeBuffers) {
    fake_reactor f;
    std::string big = "POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\n" + std::string(900, 'x');
    f.feed(std::string_view(big).substr(0, 100));
    f.feed(std::string_view(big).substr(100));
    EXPECT_TRUE(f.conn.idle());
    EXPECT_LE(sizeof(http1_connection), 512u) << "per-connection state must stay small (10k idle connections)";
}

// ---- responses as messages: streaming, framing rules, order ----

app_response head_part(const dispatch::app_request& r, int64_t length, uint8_t more = 0) {
    app_response m = fake_reactor::message(r, app_response::part_head | more);
    m.start.content_length = length;
    return m;
}

app_response body_part(const dispatch::app_request& r, std::string bytes, uint8_t more = 0) {
    app_response m = fake_reactor::message(r, app_response::part_body | more);
    m.body = std::move(bytes);
    return m;
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
        auto stream = std::make_shared<recording_stream>();
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
    auto later = std::make_shared<recording_stream>();
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
    auto s = std::make_shared<recording_stream>();
    app_response h = head_part(f.batch[0], -1);
    h.stream = s;
    f.send(std::move(h));
    f.conn.release();
    EXPECT_EQ(s->closed, 1);
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

// ---- request bodies streamed to the application ----

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
