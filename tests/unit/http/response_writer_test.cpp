// Response serialization: framing per status and method, common headers, validation.
#include "http/response_writer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ringbolt::http {
namespace {

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";

struct writer_case {
    const char* name;
    response_spec spec;
    std::string expected;
};

TEST(ResponseWriter, Framing) {
    const std::string common = "Server: ringbolt\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
    const writer_case cases[] = {
        {"200 with body",
         {200, "text/plain", "hi", false, false, false},
         "HTTP/1.1 200 OK\r\n" + common + "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"},
        {"HEAD keeps Content-Length, drops body",
         {200, "text/plain", "hi", true, false, false},
         "HTTP/1.1 200 OK\r\n" + common + "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n"},
        {"204 has neither body nor length",
         {204, "text/plain", "ignored", false, false, false},
         "HTTP/1.1 204 No Content\r\n" + common + "\r\n"},
        {"304 has neither body nor length",
         {304, "", "ignored", false, false, false},
         "HTTP/1.1 304 Not Modified\r\n" + common + "\r\n"},
        {"close",
         {404, "", "", false, true, false},
         "HTTP/1.1 404 Not Found\r\n" + common + "Connection: close\r\nContent-Length: 0\r\n\r\n"},
        {"HTTP/1.0 keep-alive",
         {200, "", "x", false, false, true},
         "HTTP/1.1 200 OK\r\n" + common + "Connection: keep-alive\r\nContent-Length: 1\r\n\r\nx"},
        {"unknown status has empty reason",
         {299, "", "", false, false, false},
         "HTTP/1.1 299 \r\n" + common + "Content-Length: 0\r\n\r\n"},
    };
    for (const auto& c : cases) {
        std::string out;
        write_response(out, c.spec, date);
        EXPECT_EQ(out, c.expected) << c.name;
    }
}

TEST(ResponseWriter, ExtraHeadersInOrder) {
    std::vector<std::pair<std::string, std::string>> headers = {{"x-a", "1"}, {"Set-Cookie", "a=b"}, {"x-a", "2"}};
    std::string out;
    write_response(out, {201, "application/json", "{}", false, false, false}, date, headers);
    EXPECT_NE(out.find("Content-Type: application/json\r\nx-a: 1\r\nSet-Cookie: a=b\r\nx-a: 2\r\nContent-Length: 2"),
              std::string::npos)
        << out;
}

TEST(ResponseWriter, ErrorResponsesCloseAndCarryStatus) {
    const std::pair<http_error, const char*> cases[] = {
        {http_error::bad_request, "HTTP/1.1 400 Bad Request\r\n"},
        {http_error::uri_too_long, "HTTP/1.1 414 URI Too Long\r\n"},
        {http_error::header_too_large, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {http_error::body_too_large, "HTTP/1.1 413 Content Too Large\r\n"},
        {http_error::not_implemented, "HTTP/1.1 501 Not Implemented\r\n"},
        {http_error::version_not_supported, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
        {http_error::expectation_failed, "HTTP/1.1 417 Expectation Failed\r\n"},
        {http_error::request_timeout, "HTTP/1.1 408 Request Timeout\r\n"},
    };
    for (const auto& [err, line] : cases) {
        std::string out;
        write_error_response(out, err, date);
        EXPECT_EQ(out.rfind(line, 0), 0u) << out;
        EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
        std::string body(reason_of(err));
        EXPECT_NE(out.find("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body), std::string::npos);
    }
}

TEST(ResponseWriter, FieldValidation) {
    const std::pair<std::string_view, bool> names[] = {
        {"x-ok", true}, {"Content-Type", true}, {"", false}, {"a b", false}, {"a:b", false}, {"a\r\nb", false},
    };
    for (const auto& [n, ok] : names) {
        EXPECT_EQ(valid_field_name(n), ok) << n;
    }
    const std::pair<std::string_view, bool> values[] = {
        {"plain", true},
        {"", true},
        {"tab\there", true},
        {"\xc3\xa9", true},
        {"a\rb", false},
        {"a\nb", false},
        {std::string_view("a\0b", 3), false},
    };
    for (const auto& [v, ok] : values) {
        EXPECT_EQ(valid_field_value(v), ok) << v;
    }
}

} // namespace
} // namespace ringbolt::http
