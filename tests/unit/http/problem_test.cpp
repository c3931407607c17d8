// The constant RFC 9457 bodies of native error answers (http/problem.hpp): every parser
// error, static-file error and WebSocket refusal has one whose title is its status's
// reason phrase, whose status is the status sent, and whose detail is a sentence that
// needs no JSON escaping.
#include "http/problem.hpp"
#include "http/response_writer.hpp"
#include "ws/opening.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

/// Checks `body` is exactly {"type":"about:blank","title":...,"status":N,"detail":"..."}
/// for `status`; returns the detail.
std::string check_problem(std::string_view body, uint16_t status) {
    std::string head = R"({"type":"about:blank","title":")" + std::string(reason_phrase(status)) + R"(","status":)" +
                       std::to_string(status) + R"(,"detail":")";
    EXPECT_TRUE(body.starts_with(head)) << body;
    EXPECT_TRUE(body.ends_with("\"}")) << body;
    if (!body.starts_with(head) || !body.ends_with("\"}") || body.size() < head.size() + 2) {
        return {};
    }
    std::string detail(body.substr(head.size(), body.size() - head.size() - 2));
    EXPECT_GT(detail.size(), 10u) << body;
    for (char c : detail) {
        EXPECT_TRUE(c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) << body;
    }
    EXPECT_EQ(detail.back(), '.') << body;
    return detail;
}

TEST(Problem, EveryParserErrorHasItsOwnBody) {
    std::vector<std::string> details;
    for (int i = 1; i < static_cast<int>(http_error::count_); ++i) {
        auto e = static_cast<http_error>(i);
        SCOPED_TRACE(std::string(reason_of(e)));
        details.push_back(check_problem(problem_of(e), status_of(e)));
    }
    // Each cause is named: no two errors share a detail.
    std::sort(details.begin(), details.end());
    EXPECT_EQ(std::adjacent_find(details.begin(), details.end()), details.end());
}

TEST(Problem, ParserErrorsNameTheirLimit) {
    EXPECT_NE(problem_of(http_error::body_too_large).find("max_body_size"), std::string_view::npos);
    EXPECT_NE(problem_of(http_error::uri_too_long).find("max_request_line"), std::string_view::npos);
    EXPECT_NE(problem_of(http_error::header_too_large).find("max_header_size"), std::string_view::npos);
    EXPECT_NE(problem_of(http_error::missing_host).find("Host"), std::string_view::npos);
    // Both singletons and their sections, and what is wrong with them.
    for (std::string_view part : {"Authorization or Proxy-Authorization", "more than once", "11.6.2", "11.7.2"}) {
        EXPECT_NE(problem_of(http_error::repeated_credentials).find(part), std::string_view::npos) << part;
    }
}

TEST(Problem, NativeAndStaticBodies) {
    struct row {
        std::string_view body;
        uint16_t status;
    };
    for (const row& r :
         {row{problem_not_found, 404}, row{problem_method_not_allowed, 405}, row{problem_unavailable, 503},
          row{problem_starting, 503}, row{problem_internal_error, 500}, row{problem_forbidden, 403},
          row{problem_file_not_found, 404}, row{problem_static_method, 405}, row{problem_static_bad_path, 400},
          row{problem_static_no_fds, 503}, row{problem_static_changed, 503}, row{problem_precondition_failed, 412},
          row{problem_range_not_satisfiable, 416}, row{problem_websocket_only, 426}}) {
        check_problem(r.body, r.status);
    }
}

TEST(Problem, WebSocketRefusalsCarryTheirReason) {
    const std::string ok = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    const std::string rows[][2] = {
        {"POST /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n", "400"},
        {"GET /ws HTTP/1.0\r\nHost: a\r\n", "400"},
        {"GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 8\r\n", "426"},
        {"GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: short\r\n", "400"},
    };
    for (const auto& r : rows) {
        std::string text = r[0];
        std::string extra = ok;
        if (text.find("Sec-WebSocket-Version") != std::string::npos) {
            extra = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        } else if (text.find("Sec-WebSocket-Key") != std::string::npos) {
            extra = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
        }
        text += extra + "\r\n";
        request_head head;
        parse_outcome o = parse_request_head(text, head, parser_limits{});
        ASSERT_EQ(o.status, parse_status::complete) << text;
        ws::opening_check c = ws::check_opening(head);
        ASSERT_NE(c.status, ws::opening_status::valid) << text;
        ASSERT_NE(c.status, ws::opening_status::not_websocket) << text;
        std::string detail = check_problem(c.problem, static_cast<uint16_t>(std::stoi(r[1])));
        EXPECT_EQ(detail, std::string(c.why) + ".");
    }
}

} // namespace
} // namespace ringbolt::http
