// Response framing: the head and framing chosen per status, version, method, length and
// persistence; chunk encoding; length accounting; classification of handler headers.
#include "http/response_framer.hpp"

#include "http/response_features.hpp"

#include "tests/support/queue_text.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";

using test_support::describe_output;

TEST(ResponseFramer, HeadAndFramingPerCase) {
    struct framing_case {
        const char* name;
        uint16_t status;
        uint8_t minor;
        bool head_request;
        bool keep_alive; ///< the request allows persistence
        int64_t length;  ///< -1: unknown
        bool draining;
        bool app_close;
        const char* connection; ///< expected Connection value ("": none)
        const char* framing_field;
        body_framing framing;
        bool closes;
    };
    using enum body_framing;
    const framing_case cases[] = {
        {"1.1 known length", 200, 1, false, true, 5, false, false, "", "Content-Length: 5", length, false},
        {"1.1 zero length", 404, 1, false, true, 0, false, false, "", "Content-Length: 0", length, false},
        {"1.1 unknown length", 200, 1, false, true, -1, false, false, "", "Transfer-Encoding: chunked", chunked, false},
        {"1.1 without keep-alive", 500, 1, false, false, 3, false, false, "close", "Content-Length: 3", length, true},
        {"1.1 draining", 200, 1, false, true, -1, true, false, "close", "Transfer-Encoding: chunked", chunked, true},
        {"1.1 app close", 201, 1, false, true, 2, false, true, "close", "Content-Length: 2", length, true},
        {"1.1 HEAD known length", 200, 1, true, true, 5, false, false, "", "Content-Length: 5", none, false},
        {"1.1 HEAD unknown length", 200, 1, true, true, -1, false, false, "", "", none, false},
        {"1.1 HEAD draining", 200, 1, true, true, 5, true, false, "close", "Content-Length: 5", none, true},
        {"204", 204, 1, false, true, 0, false, false, "", "", none, false},
        {"204 with a length", 204, 1, false, true, 7, false, false, "", "", none, false},
        {"304 with a length", 304, 1, false, true, 10, false, false, "", "", none, false},
        {"304 unknown length", 304, 1, false, true, -1, false, false, "", "", none, false},
        {"103", 103, 1, false, true, -1, false, false, "", "", none, false},
        {"1.0 keep-alive known length", 200, 0, false, true, 5, false, false, "keep-alive", "Content-Length: 5", length,
         false},
        {"1.0 keep-alive unknown length", 200, 0, false, true, -1, false, false, "close", "", until_close, true},
        {"1.0 without keep-alive", 200, 0, false, false, 5, false, false, "close", "Content-Length: 5", length, true},
        {"1.0 HEAD keep-alive unknown", 200, 0, true, true, -1, false, false, "keep-alive", "", none, false},
        {"1.0 204 keep-alive", 204, 0, false, true, -1, false, false, "keep-alive", "", none, false},
        {"1.0 draining", 200, 0, false, true, 5, true, false, "close", "Content-Length: 5", length, true},
        {"1.0 app close", 200, 0, false, true, -1, false, true, "close", "", until_close, true},
    };
    for (const auto& c : cases) {
        core::output_queue q;
        response_framer f;
        request_context req{c.minor, c.head_request, c.keep_alive};
        f.start(q, req, c.status, "X-A: 1\r\n", c.length, c.app_close, date, c.draining);
        // After the status line (its reason phrase is reason_phrase()'s business):
        std::string expected = "\r\nServer: ringbolt\r\nDate: " + std::string(date) + "\r\n";
        if (*c.connection != '\0') {
            expected += "Connection: " + std::string(c.connection) + "\r\n";
        }
        expected += "X-A: 1\r\n";
        if (*c.framing_field != '\0') {
            expected += std::string(c.framing_field) + "\r\n";
        }
        expected += "\r\n";
        std::string head = describe_output(q);
        size_t line_end = head.find("\r\n");
        ASSERT_NE(line_end, std::string::npos) << c.name;
        EXPECT_EQ(head.substr(0, 13), "HTTP/1.1 " + std::to_string(c.status) + " ") << c.name;
        EXPECT_EQ(head.substr(line_end), expected) << c.name;
        EXPECT_EQ(f.framing(), c.framing) << c.name;
        EXPECT_EQ(f.closes(), c.closes) << c.name;
        EXPECT_EQ(f.status(), c.status) << c.name;
    }
}

TEST(ResponseFramer, ApplicationDateAndServerReplaceOurs) {
    struct own_fields_case {
        bool has_date;
        bool has_server;
        const char* expected;
    };
    const own_fields_case cases[] = {
        {false, false, "HTTP/1.1 200 OK\r\nServer: ringbolt\r\nDate: D\r\nContent-Length: 0\r\n\r\n"},
        {true, false, "HTTP/1.1 200 OK\r\nServer: ringbolt\r\nContent-Length: 0\r\n\r\n"},
        {false, true, "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 0\r\n\r\n"},
        {true, true, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
    };
    for (const auto& c : cases) {
        core::output_queue q;
        response_framer f;
        f.start(q, request_context{}, 200, "", 0, false, "D", false, c.has_date, c.has_server);
        EXPECT_EQ(describe_output(q), c.expected);
    }
    response_head h; // the response_head overload carries the same flags
    h.status = 204;
    h.fields = "Date: mine\r\n";
    h.has_date = true;
    h.close = true;
    core::output_queue q;
    response_framer f;
    f.start(q, request_context{}, h, "D", false);
    EXPECT_EQ(describe_output(q),
              "HTTP/1.1 204 No Content\r\nServer: ringbolt\r\nConnection: close\r\nDate: mine\r\n\r\n");
}

TEST(ResponseFramer, ServerFieldsFromConfiguration) {
    // ringbolt serve --no-server-header / --no-date-header / --header NAME:VALUE
    struct server_fields_case {
        const char* server;
        bool date;
        const char* extra;
        bool has_server; ///< the application set its own Server
        const char* expected;
    };
    const server_fields_case cases[] = {
        {"", true, "", false, "HTTP/1.1 200 OK\r\nDate: D\r\nContent-Length: 0\r\n\r\n"},
        {"Server: ringbolt\r\n", false, "", false, "HTTP/1.1 200 OK\r\nServer: ringbolt\r\nContent-Length: 0\r\n\r\n"},
        {"", false, "X-A: 1\r\nX-B: 2\r\n", false, "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 0\r\n\r\n"},
        {"Server: edge\r\n", true, "", false,
         "HTTP/1.1 200 OK\r\nServer: edge\r\nDate: D\r\nContent-Length: 0\r\n\r\n"},
        {"Server: edge\r\n", false, "", true, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
    };
    for (const auto& c : cases) {
        server_fields sf;
        sf.server = c.server;
        sf.date = c.date;
        sf.extra = c.extra;
        core::output_queue q;
        response_framer f;
        f.start(q, request_context{}, 200, "", 0, false, "D", false, false, c.has_server, &sf);
        EXPECT_EQ(describe_output(q), c.expected);
    }
}

// The head is written in place into the queue's tail (grown by an upper bound, then cut):
// statuses with and without a reason phrase, after bytes already queued, with the
// features' lines, and an HTTP-date of another length.
TEST(ResponseFramer, HeadWrittenInPlace) {
    struct in_place_case {
        const char* name;
        uint16_t status;
        std::string_view date;
        const char* before; ///< already in the queue's tail
        const char* expected;
    };
    const in_place_case cases[] = {
        {"200", 200, date, "",
         "HTTP/1.1 200 OK\r\nServer: ringbolt\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
         "X-A: 1\r\nContent-Length: 0\r\n\r\n"},
        {"404", 404, "D", "",
         "HTTP/1.1 404 Not Found\r\nServer: ringbolt\r\nDate: D\r\nX-A: 1\r\n"
         "Content-Length: 0\r\n\r\n"},
        {"no reason phrase", 299, "D", "",
         "HTTP/1.1 299 \r\nServer: ringbolt\r\nDate: D\r\nX-A: 1\r\n"
         "Content-Length: 0\r\n\r\n"},
        {"999", 999, "D", "", "HTTP/1.1 999 \r\nServer: ringbolt\r\nDate: D\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n"},
        {"after queued bytes", 200, "D", "prev",
         "prevHTTP/1.1 200 OK\r\nServer: ringbolt\r\nDate: D\r\nX-A: 1\r\n"
         "Content-Length: 0\r\n\r\n"},
    };
    for (const auto& c : cases) {
        core::output_queue q;
        q.append(c.before);
        response_framer f;
        f.start(q, request_context{}, c.status, "X-A: 1\r\n", 0, false, c.date, false);
        EXPECT_EQ(q.bytes(), std::string_view(c.expected).size()) << c.name; // the queue's count is cut too
        EXPECT_EQ(describe_output(q), c.expected) << c.name;
    }
    // The features' lines (security headers here) go after the handler's fields, before
    // the framing; the 20-digit length is the longest framing line.
    response_features feats;
    ASSERT_EQ(configure_security_headers(feats, {{"X-Frame-Options", "DENY"}}), "");
    request_context req;
    req.features = &feats;
    req.head_request = true;
    core::output_queue q;
    response_framer f;
    f.start(q, req, 200, "X-A: 1\r\n", INT64_MAX, false, "D", false);
    EXPECT_EQ(describe_output(q),
              "HTTP/1.1 200 OK\r\nServer: ringbolt\r\nDate: D\r\nX-A: 1\r\nX-Frame-Options: DENY\r\n"
              "Content-Length: 9223372036854775807\r\n\r\n");
}

// whole() is start() + body() in one write: the same bytes, framing and accounting for
// every kind of request and status, small bodies and ones past the coalescing size.
TEST(ResponseFramer, WholeIsStartAndBody) {
    struct whole_case {
        const char* name;
        uint16_t status;
        uint8_t minor;
        bool head_request;
        bool keep_alive;
        bool app_close;
        bool draining;
        size_t body_size;
    };
    const whole_case cases[] = {
        {"200 small", 200, 1, false, true, false, false, 27},
        {"200 empty", 200, 1, false, true, false, false, 0},
        {"200 one below coalescing", 200, 1, false, true, false, false, core::output_queue::coalesce_below - 1},
        {"200 at coalescing", 200, 1, false, true, false, false, core::output_queue::coalesce_below},
        {"200 large", 200, 1, false, true, false, false, 70000},
        {"HEAD", 200, 1, true, true, false, false, 12},
        {"204 drops the body", 204, 1, false, true, false, false, 5},
        {"304 drops the body", 304, 1, false, true, false, false, 5},
        {"404 without keep-alive", 404, 1, false, false, false, false, 40},
        {"1.0 keep-alive", 200, 0, false, true, false, false, 3},
        {"app close", 201, 1, false, true, true, false, 3},
        {"draining", 200, 1, false, true, false, true, 3},
    };
    for (const auto& c : cases) {
        std::string body(c.body_size, 'b');
        for (size_t i = 0; i < body.size(); ++i) {
            body[i] = static_cast<char>('a' + i % 26);
        }
        request_context req{c.minor, c.head_request, c.keep_alive};
        core::output_queue q1;
        response_framer f1;
        f1.start(q1, req, c.status, "X-A: 1\r\n", static_cast<int64_t>(body.size()), c.app_close, date, c.draining);
        EXPECT_TRUE(f1.body(q1, body)) << c.name;
        core::output_queue q2;
        response_framer f2;
        f2.whole(q2, req, c.status, "X-A: 1\r\n", body, c.app_close, date, c.draining);
        EXPECT_EQ(q2.bytes(), q1.bytes()) << c.name;
        EXPECT_EQ(f2.framing(), f1.framing()) << c.name;
        EXPECT_EQ(f2.closes(), f1.closes()) << c.name;
        EXPECT_TRUE(f1.end(q1)) << c.name;
        EXPECT_TRUE(f2.end(q2)) << c.name; // the whole body was accounted for
        EXPECT_EQ(describe_output(q2), describe_output(q1)) << c.name;
        EXPECT_FALSE(f2.body(q2, "x") && f2.framing() == body_framing::length) << c.name; // nothing more fits
    }
}

TEST(ResponseFramer, ChunkEncoding) {
    struct chunk_case {
        const char* name;
        std::vector<std::string> pieces;
        const char* trailers;
        std::string expected; ///< after the head
    };
    const chunk_case cases[] = {
        {"one piece", {"hello"}, "", "5\r\nhello\r\n0\r\n\r\n"},
        {"empty pieces are skipped", {"", "ab", ""}, "", "2\r\nab\r\n0\r\n\r\n"},
        {"no body", {}, "", "0\r\n\r\n"},
        {"hex sizes",
         {std::string(26, 'z'), std::string(300, 'y')},
         "",
         "1a\r\n" + std::string(26, 'z') + "\r\n12c\r\n" + std::string(300, 'y') + "\r\n0\r\n\r\n"},
        {"trailers", {"x"}, "X-Checksum: 1\r\nX-B: 2\r\n", "1\r\nx\r\n0\r\nX-Checksum: 1\r\nX-B: 2\r\n\r\n"},
    };
    for (const auto& c : cases) {
        core::output_queue q;
        response_framer f;
        f.start(q, request_context{}, 200, "", -1, false, date, false);
        std::string head = describe_output(q);
        for (const auto& p : c.pieces) {
            EXPECT_TRUE(f.body(q, p)) << c.name;
        }
        EXPECT_TRUE(f.end(q, c.trailers)) << c.name;
        EXPECT_EQ(describe_output(q), c.expected) << c.name;
    }
}

TEST(ResponseFramer, ChunkedOwnedBorrowedAndFileBodies) {
    core::output_queue q;
    response_framer f;
    f.start(q, request_context{}, 200, "", -1, false, date, false);
    describe_output(q);
    auto keep = std::make_shared<std::string>(2000, 'b');
    EXPECT_TRUE(f.body_owned(q, std::string(1500, 'o')));
    EXPECT_TRUE(f.body_borrowed(q, *keep, keep));
    EXPECT_TRUE(f.body_file(q, std::make_shared<core::file_handle>(-1), 3, 4096));
    EXPECT_TRUE(f.end(q));
    EXPECT_EQ(describe_output(q), "5dc\r\n" + std::string(1500, 'o') + "\r\n7d0\r\n" + std::string(2000, 'b') +
                                      "\r\n1000\r\n[file 3+4096]\r\n0\r\n\r\n");
}

TEST(ResponseFramer, DeclaredLengthIsHeldTo) {
    struct length_case {
        const char* name;
        int64_t declared;
        bool head_request;
        std::vector<std::string> pieces;
        std::vector<bool> accepted; ///< per piece
        bool end_ok;
        std::string body; ///< on the wire after the head
    };
    const length_case cases[] = {
        {"exact", 5, false, {"ab", "cde"}, {true, true}, true, "abcde"},
        {"short: end fails", 5, false, {"abc"}, {true}, false, "abc"},
        {"over: the piece is refused whole", 5, false, {"abc", "def"}, {true, false}, false, "abc"},
        {"over in one piece", 2, false, {"abc"}, {false}, false, ""},
        {"over after an exact fill", 3, false, {"abc", "d"}, {true, false}, true, "abc"},
        {"zero", 0, false, {"", "x"}, {true, false}, true, ""},
        {"HEAD: pieces dropped, never counted", 5, true, {"abcdefgh"}, {true}, true, ""},
    };
    for (const auto& c : cases) {
        core::output_queue q;
        response_framer f;
        f.start(q, request_context{1, c.head_request, true}, 200, "", c.declared, false, date, false);
        describe_output(q);
        for (size_t i = 0; i < c.pieces.size(); ++i) {
            EXPECT_EQ(f.body(q, c.pieces[i]), c.accepted[i]) << c.name << " piece " << i;
        }
        EXPECT_EQ(f.end(q, "X-Ignored: 1\r\n"), c.end_ok) << c.name;
        EXPECT_EQ(describe_output(q), c.body) << c.name << ": trailers only exist in chunked framing";
    }
}

TEST(ResponseFramer, CreditsForBytesNeverSent) {
    struct credit final : core::send_credit {
        uint64_t total = 0;
        void on_sent(size_t n) noexcept override { total += n; }
    };
    core::output_queue q;
    response_framer head_f; // HEAD: the body is dropped, its producer credited at once
    head_f.start(q, request_context{1, true, true}, 200, "", -1, false, date, false);
    auto c = std::make_shared<credit>();
    EXPECT_TRUE(head_f.body_owned(q, std::string(100, 'x'), c));
    EXPECT_TRUE(head_f.body_borrowed(q, "yy", nullptr, c));
    EXPECT_TRUE(head_f.body_file(q, std::make_shared<core::file_handle>(-1), 0, 7, c));
    EXPECT_EQ(c->total, 109u);
    describe_output(q);
    response_framer over; // over the length: refused, not queued (the connection fails the response)
    over.start(q, request_context{}, 200, "", 1, false, date, false);
    describe_output(q);
    auto d = std::make_shared<credit>();
    EXPECT_FALSE(over.body_owned(q, std::string("ab"), d));
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(d->total, 0u); // the connection tells the producer on_closed instead
}

TEST(ResponseFramer, CheckAppField) {
    struct field_case {
        const char* name;
        const char* value;
        int64_t declared_before;
        field_action action;
        int64_t declared_after;
        bool close;
        bool has_date;
        bool has_server;
    };
    using enum field_action;
    const field_case cases[] = {
        {"Content-Length", "10", -1, content_length, 10, false, false, false},
        {"content-length", "0", -1, content_length, 0, false, false, false},
        {"CONTENT-LENGTH", "9223372036854775807", -1, content_length, INT64_MAX, false, false, false},
        {"Content-Length", "10", 10, content_length, 10, false, false, false}, // the same length twice
        {"Content-Length", "11", 10, bad_length, 10, false, false, false},     // two different lengths
        {"Content-Length", "", -1, bad_length, -1, false, false, false},
        {"Content-Length", "-1", -1, bad_length, -1, false, false, false},
        {"Content-Length", "+1", -1, bad_length, -1, false, false, false},
        {"Content-Length", "1x", -1, bad_length, -1, false, false, false},
        {"Content-Length", " 1", -1, bad_length, -1, false, false, false},
        {"Content-Length", "1,1", -1, bad_length, -1, false, false, false},
        {"Content-Length", "9223372036854775808", -1, bad_length, -1, false, false, false},
        {"Content-Length", "99999999999999999999", -1, bad_length, -1, false, false, false},
        {"Transfer-Encoding", "chunked", -1, drop, -1, false, false, false},
        {"transfer-encoding", "gzip, chunked", -1, drop, -1, false, false, false},
        {"Connection", "close", -1, drop, -1, true, false, false},
        {"connection", "CLOSE", -1, drop, -1, true, false, false},
        {"Connection", "keep-alive", -1, drop, -1, false, false, false},
        {"Connection", "Keep-Alive, close", -1, drop, -1, true, false, false},
        {"Connection", "upgrade,close", -1, drop, -1, true, false, false},
        {"Connection", "closed", -1, drop, -1, false, false, false},
        {"Connection", "\tclose\t", -1, drop, -1, true, false, false},
        {"Date", "Mon, 01 Jan 2024 00:00:00 GMT", -1, keep, -1, false, true, false},
        {"date", "x", -1, keep, -1, false, true, false},
        {"Server", "mine", -1, keep, -1, false, false, true},
        {"Content-Type", "text/plain", -1, keep, -1, false, false, false},
        {"X-Connection", "close", -1, keep, -1, false, false, false},
        {"Servers", "x", -1, keep, -1, false, false, false},
    };
    for (const auto& c : cases) {
        response_head h;
        int64_t declared = c.declared_before;
        EXPECT_EQ(check_app_field(c.name, c.value, h, declared), c.action) << c.name << ": " << c.value;
        EXPECT_EQ(declared, c.declared_after) << c.name << ": " << c.value;
        EXPECT_EQ(h.close, c.close) << c.name << ": " << c.value;
        EXPECT_EQ(h.has_date, c.has_date) << c.name << ": " << c.value;
        EXPECT_EQ(h.has_server, c.has_server) << c.name << ": " << c.value;
    }
}

} // namespace
} // namespace ringbolt::http
