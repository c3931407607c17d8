// Unit tests for http/parser.cpp: tables of valid and invalid request heads, each also
// parsed at every prefix (a prefix is "incomplete" or agrees with the whole input).
#include "http/parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

struct valid_case {
    const char* name;
    std::string input;
    std::string method;
    uint16_t method_id = method_get;
    std::string target = "/";
    std::string path = "/";
    std::string query = "";
    uint8_t version_minor = 1;
    uint16_t num_headers = 1;
    body_kind body = body_kind::none;
    uint64_t content_length = 0;
    bool keep_alive = true;
    bool expect_continue = false;
    bool upgrade = false;
    std::string host = "x";
    size_t consumed = 0; ///< 0: the whole input
};

struct error_case {
    const char* name;
    std::string input;
    http_error error;
    parser_limits limits = {};
};

std::ostream& operator<<(std::ostream& os, const valid_case& c) {
    return os << c.name;
}
std::ostream& operator<<(std::ostream& os, const error_case& c) {
    return os << c.name;
}

parse_outcome parse(std::string_view s, request_head& h, const parser_limits& l = {}) {
    return parse_request_head(s, h, l);
}

/// Every prefix of `in` must be incomplete or give exactly the whole input's result;
/// prefixes shorter than a complete head must be incomplete.
void check_prefixes(const std::string& in, const parser_limits& limits) {
    request_head full_head;
    const parse_outcome full = parse(in, full_head, limits);
    for (size_t k = 0; k < in.size(); ++k) {
        // Copy the prefix into its own allocation so ASan catches reads past its end.
        const std::string prefix = in.substr(0, k);
        request_head h;
        const parse_outcome r = parse(prefix, h, limits);
        if (full.status == parse_status::complete && k < full.consumed) {
            ASSERT_EQ(r.status, parse_status::incomplete) << "prefix " << k;
            continue;
        }
        if (r.status == parse_status::incomplete) {
            continue;
        }
        ASSERT_EQ(r.status, full.status) << "prefix " << k;
        ASSERT_EQ(r.error, full.error) << "prefix " << k;
        ASSERT_EQ(r.consumed, full.consumed) << "prefix " << k;
    }
}

const std::string h = "Host: x\r\n";

std::vector<valid_case> valid_cases() {
    return {
        {.name = "minimal", .input = "GET / HTTP/1.1\r\n" + h + "\r\n", .method = "GET"},
        {.name = "wrk",
         .input = "GET / HTTP/1.1\r\nHost: localhost:8000\r\n\r\n",
         .method = "GET",
         .host = "localhost:8000"},
        {.name = "leading_crlfs", .input = "\r\n\r\nGET / HTTP/1.1\r\n" + h + "\r\n", .method = "GET"},
        {.name = "http10_no_host",
         .input = "GET /a HTTP/1.0\r\n\r\n",
         .method = "GET",
         .target = "/a",
         .path = "/a",
         .version_minor = 0,
         .num_headers = 0,
         .keep_alive = false,
         .host = ""},
        {.name = "http10_keep_alive",
         .input = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
         .method = "GET",
         .version_minor = 0,
         .keep_alive = true,
         .host = ""},
        {.name = "http12_as_11", .input = "GET / HTTP/1.2\r\n" + h + "\r\n", .method = "GET"},
        {.name = "query",
         .input = "GET /p/q?a=1&b=2 HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "/p/q?a=1&b=2",
         .path = "/p/q",
         .query = "a=1&b=2"},
        {.name = "empty_query",
         .input = "GET /p? HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "/p?",
         .path = "/p"},
        {.name = "fragment_dropped",
         .input = "GET /p?q=1#frag HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "/p?q=1#frag",
         .path = "/p",
         .query = "q=1"},
        {.name = "long_path_query_after_runs",
         .input = "GET /baseline11/abcdefgh?a=13&b=42 HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "/baseline11/abcdefgh?a=13&b=42",
         .path = "/baseline11/abcdefgh",
         .query = "a=13&b=42"},
        {.name = "second_question_mark_in_query",
         .input = "GET /abcdefg?x?y#z?w HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "/abcdefg?x?y#z?w",
         .path = "/abcdefg",
         .query = "x?y"},
        {.name = "fragment_before_question_mark",
         .input = "GET /abcd#e?f HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "/abcd#e?f",
         .path = "/abcd"},
        {.name = "query_without_path_end",
         .input = "GET /abc?de#f HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "/abc?de#f",
         .path = "/abc",
         .query = "de"},
        {.name = "absolute_form",
         .input = "GET http://example.com:81/a/b?c HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "http://example.com:81/a/b?c",
         .path = "/a/b",
         .query = "c"},
        {.name = "absolute_form_https_upper_no_path",
         .input = "GET HTTPS://example.com HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "HTTPS://example.com",
         .path = "/"},
        {.name = "absolute_form_query_no_path",
         .input = "GET http://e.com?x=1 HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "http://e.com?x=1",
         .path = "/",
         .query = "x=1"},
        {.name = "asterisk_options",
         .input = "OPTIONS * HTTP/1.1\r\n" + h + "\r\n",
         .method = "OPTIONS",
         .method_id = method_options,
         .target = "*",
         .path = "*"},
        {.name = "authority_connect",
         .input = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
         .method = "CONNECT",
         .method_id = method_connect,
         .target = "example.com:443",
         .path = "example.com:443",
         .host = "example.com:443"},
        {.name = "method_head",
         .input = "HEAD / HTTP/1.1\r\n" + h + "\r\n",
         .method = "HEAD",
         .method_id = method_head},
        {.name = "method_post",
         .input = "POST / HTTP/1.1\r\n" + h + "\r\n",
         .method = "POST",
         .method_id = method_post},
        {.name = "method_put", .input = "PUT / HTTP/1.1\r\n" + h + "\r\n", .method = "PUT", .method_id = method_put},
        {.name = "method_delete",
         .input = "DELETE / HTTP/1.1\r\n" + h + "\r\n",
         .method = "DELETE",
         .method_id = method_delete},
        {.name = "method_patch",
         .input = "PATCH / HTTP/1.1\r\n" + h + "\r\n",
         .method = "PATCH",
         .method_id = method_patch},
        {.name = "method_trace",
         .input = "TRACE / HTTP/1.1\r\n" + h + "\r\n",
         .method = "TRACE",
         .method_id = method_trace},
        {.name = "method_other",
         .input = "PROPFIND / HTTP/1.1\r\n" + h + "\r\n",
         .method = "PROPFIND",
         .method_id = method_other},
        {.name = "method_case_sensitive",
         .input = "get / HTTP/1.1\r\n" + h + "\r\n",
         .method = "get",
         .method_id = method_other},
        {.name = "ows_stripped_and_obs_text",
         .input = "GET / HTTP/1.1\r\nHost: \t x \t\r\nX-A:\t\xC3\xA9t\xC3\xA9 v\tz  \r\nX-Empty:\r\n\r\n",
         .method = "GET",
         .num_headers = 3},
        {.name = "header_name_case_insensitive",
         .input = "GET / HTTP/1.1\r\nhOsT: x\r\nCONTENT-LENGTH: 3\r\nconnection: CLOSE\r\n\r\n",
         .method = "GET",
         .num_headers = 3,
         .body = body_kind::content_length,
         .content_length = 3,
         .keep_alive = false},
        {.name = "content_length",
         .input = "POST / HTTP/1.1\r\n" + h + "Content-Length: 42\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 2,
         .body = body_kind::content_length,
         .content_length = 42},
        {.name = "content_length_zero",
         .input = "POST / HTTP/1.1\r\n" + h + "Content-Length: 0\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 2},
        {.name = "content_length_max",
         .input = "POST / HTTP/1.1\r\n" + h + "Content-Length: 9223372036854775807\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 2,
         .body = body_kind::content_length,
         .content_length = 9223372036854775807ull},
        {.name = "content_length_duplicate_same",
         .input = "POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 3,
         .body = body_kind::content_length,
         .content_length = 5},
        {.name = "content_length_list_same",
         .input = "POST / HTTP/1.1\r\n" + h + "Content-Length: 5 , 5\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 2,
         .body = body_kind::content_length,
         .content_length = 5},
        {.name = "chunked",
         .input = "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 2,
         .body = body_kind::chunked},
        {.name = "chunked_after_gzip_across_fields",
         .input = "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: GZIP, identity\r\nTransfer-Encoding: Chunked\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 3,
         .body = body_kind::chunked},
        {.name = "connection_close",
         .input = "GET / HTTP/1.1\r\n" + h + "Connection: keep-alive, close\r\n\r\n",
         .method = "GET",
         .num_headers = 2,
         .keep_alive = false},
        {.name = "connection_upgrade",
         .input = "GET /ws HTTP/1.1\r\n" + h + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
         .method = "GET",
         .target = "/ws",
         .path = "/ws",
         .num_headers = 3,
         .upgrade = true},
        {.name = "connection_upgrade_without_upgrade_header",
         .input = "GET / HTTP/1.1\r\n" + h + "Connection: upgrade\r\n\r\n",
         .method = "GET",
         .num_headers = 2},
        {.name = "upgrade_header_without_connection",
         .input = "GET / HTTP/1.1\r\n" + h + "Upgrade: h2c\r\n\r\n",
         .method = "GET",
         .num_headers = 2},
        {.name = "expect_continue",
         .input = "POST / HTTP/1.1\r\n" + h + "Expect: 100-Continue\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 2,
         .expect_continue = true},
        {.name = "expect_continue_ignored_on_10",
         .input = "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
         .method = "POST",
         .method_id = method_post,
         .version_minor = 0,
         .keep_alive = false,
         .host = ""},
        {.name = "host_ipv6",
         .input = "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
         .method = "GET",
         .host = "[::1]:8080"},
        {.name = "host_empty", .input = "GET / HTTP/1.1\r\nHost:\r\n\r\n", .method = "GET", .host = ""},
        {.name = "host_pct_and_subdelims",
         .input = "GET / HTTP/1.1\r\nHost: a%41b!$-_.~:1\r\n\r\n",
         .method = "GET",
         .host = "a%41b!$-_.~:1"},
        {.name = "host_long_runs_and_pct",
         .input = "GET / HTTP/1.1\r\nHost: abcdefgh%41ijklm.example-host.org:8080\r\n\r\n",
         .method = "GET",
         .host = "abcdefgh%41ijklm.example-host.org:8080"},
        // Authorization and Proxy-Authorization once each (RFC 9110 §11.6.2, §11.7.2), and
        // names that only look like them: counted apart, none twice.
        {.name = "one_credential_each",
         .input = "GET / HTTP/1.1\r\n" + h + "Authorization: Bearer a\r\nProxy-Authorization: Basic b\r\n\r\n",
         .method = "GET",
         .num_headers = 3},
        {.name = "names_like_authorization",
         .input = "GET / HTTP/1.1\r\n" + h +
                  "Authorization: a\r\nAuthorizatioN2: b\r\nX-Authorization: c\r\nX-Authorization: d\r\n"
                  "Authorizations: e\r\nProxy-Authorizatio: f\r\nproxy-authorization: g\r\n\r\n",
         .method = "GET",
         .num_headers = 8},
        {.name = "pipelined",
         .input = "GET /1 HTTP/1.1\r\n" + h + "\r\nGET /2 HTTP/1.1\r\n" + h + "\r\n",
         .method = "GET",
         .target = "/1",
         .path = "/1",
         .consumed = 28},
        {.name = "body_follows",
         .input = "POST / HTTP/1.1\r\n" + h + "Content-Length: 4\r\n\r\nabcd",
         .method = "POST",
         .method_id = method_post,
         .num_headers = 2,
         .body = body_kind::content_length,
         .content_length = 4,
         .consumed = 47},
    };
}

class parser_valid : public ::testing::TestWithParam<valid_case> {};

TEST_P(parser_valid, parses_and_agrees_on_every_prefix) {
    const valid_case& c = GetParam();
    request_head r;
    const parse_outcome o = parse(c.input, r);
    ASSERT_EQ(o.status, parse_status::complete) << reason_of(o.error);
    const size_t consumed = c.consumed ? c.consumed : c.input.size();
    EXPECT_EQ(o.consumed, consumed);
    EXPECT_EQ(r.head_bytes, consumed);
    EXPECT_EQ(r.method, c.method);
    EXPECT_EQ(r.method_id, c.method_id);
    EXPECT_EQ(r.target, c.target);
    EXPECT_EQ(r.path, c.path);
    EXPECT_EQ(r.query, c.query);
    EXPECT_EQ(r.version_minor, c.version_minor);
    EXPECT_EQ(r.num_headers, c.num_headers);
    EXPECT_EQ(r.body, c.body);
    if (c.body == body_kind::content_length) {
        EXPECT_EQ(r.content_length, c.content_length);
    }
    EXPECT_EQ(r.keep_alive, c.keep_alive);
    EXPECT_EQ(r.expect_continue, c.expect_continue);
    EXPECT_EQ(r.upgrade, c.upgrade);
    EXPECT_EQ(r.host, c.host);
    // Every view lies inside the input.
    const char* lo = c.input.data();
    const char* hi = lo + c.input.size();
    auto inside = [&](std::string_view v) { return v.empty() || (v.data() >= lo && v.data() + v.size() <= hi); };
    EXPECT_TRUE(inside(r.method) && inside(r.target) && inside(r.path) && inside(r.query) && inside(r.host));
    for (size_t i = 0; i < r.num_headers; ++i) {
        EXPECT_TRUE(inside(r.headers[i].name) && inside(r.headers[i].value));
    }
    check_prefixes(c.input, {});
}

INSTANTIATE_TEST_SUITE_P(table, parser_valid, ::testing::ValuesIn(valid_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

std::vector<error_case> error_cases() {
    const std::string rl = "GET / HTTP/1.1\r\n";
    return {
        // request line (RFC 9112 §3)
        {"double_space_after_method", "GET  / HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"double_space_before_version", "GET /  HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"missing_version", "GET /\r\n" + h + "\r\n", http_error::bad_request},
        {"lowercase_http", "GET / http/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"two_digit_minor", "GET / HTTP/1.10\r\n" + h + "\r\n", http_error::bad_request},
        {"trailing_space_after_version", "GET / HTTP/1.1 \r\n" + h + "\r\n", http_error::bad_request},
        {"empty_method", " / HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"method_not_token", "G(T / HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"empty_target", "GET  HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"target_ctl", "GET /a\x01 HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"target_del", "GET /a\x7f HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"target_8bit", "GET /\xC3\xA9 HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"target_tab", "GET /a\tb HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"version_2", "GET / HTTP/2.0\r\n" + h + "\r\n", http_error::version_not_supported},
        {"version_0_9", "GET / HTTP/0.9\r\n" + h + "\r\n", http_error::version_not_supported},
        {"request_line_bare_lf", "GET / HTTP/1.1\n" + h + "\r\n", http_error::bad_request},
        {"request_line_bare_cr", "GET / HTTP/1.1\rX" + h + "\r\n", http_error::bad_request},
        {"leading_bare_lf", "\nGET / HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"leading_bare_cr", "\rGET / HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        // target forms (RFC 9112 §3.2)
        {"asterisk_not_options", "GET * HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"authority_not_connect", "GET example.com:80 HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"connect_origin_form", "CONNECT / HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"connect_without_port", "CONNECT example.com HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"relative_target", "GET foo HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"absolute_other_scheme", "GET ftp://e.com/ HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"absolute_empty_authority", "GET http:///a HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        {"absolute_userinfo", "GET http://u@e.com/ HTTP/1.1\r\n" + h + "\r\n", http_error::bad_request},
        // field lines (RFC 9112 §5)
        {"space_before_colon", rl + "Host : x\r\n\r\n", http_error::bad_request},
        {"tab_before_colon", rl + h + "X-A\t: 1\r\n\r\n", http_error::bad_request},
        {"name_not_token", rl + h + "X(A: 1\r\n\r\n", http_error::bad_request},
        {"empty_name", rl + h + ": 1\r\n\r\n", http_error::bad_request},
        {"missing_colon", rl + h + "X-A\r\n\r\n", http_error::bad_request},
        {"value_nul", rl + h + std::string("X-A: a\0b\r\n\r\n", 12), http_error::bad_request},
        {"value_ctl",
         rl + h +
             "X-A: a\x01"
             "b\r\n\r\n",
         http_error::bad_request},
        {"value_del",
         rl + h +
             "X-A: a\x7f"
             "b\r\n\r\n",
         http_error::bad_request},
        {"value_bare_cr", rl + h + "X-A: a\rb\r\n\r\n", http_error::bad_request},
        {"value_bare_lf", rl + h + "X-A: a\nb\r\n\r\n", http_error::bad_request},
        {"field_bare_lf_terminator", rl + h + "X-A: a\n\r\n", http_error::bad_request},
        {"final_bare_lf", rl + h + "\n", http_error::bad_request},
        {"final_bare_cr", rl + h + "\rX", http_error::bad_request},
        {"obs_fold_space", rl + h + "X-A: a\r\n b\r\n\r\n", http_error::bad_request},
        {"obs_fold_tab", rl + h + "X-A: a\r\n\tb\r\n\r\n", http_error::bad_request},
        {"first_line_whitespace", rl + " Host: x\r\n\r\n", http_error::bad_request},
        // Host (RFC 9112 §3.2)
        {"missing_host", rl + "X-A: 1\r\n\r\n", http_error::missing_host},
        {"duplicate_host", rl + h + h + "\r\n", http_error::bad_host},
        {"host_space", rl + "Host: a b\r\n\r\n", http_error::bad_host},
        {"host_slash", rl + "Host: a/b\r\n\r\n", http_error::bad_host},
        {"host_at", rl + "Host: u@a\r\n\r\n", http_error::bad_host},
        {"host_bad_port", rl + "Host: a:8x\r\n\r\n", http_error::bad_host},
        {"host_bad_pct", rl + "Host: a%4\r\n\r\n", http_error::bad_host},
        {"host_bad_byte_in_a_run", rl + "Host: abcdef/h.example\r\n\r\n", http_error::bad_host},
        {"host_bad_byte_after_runs", rl + "Host: abcdefgh^\r\n\r\n", http_error::bad_host},
        {"host_bad_pct_after_runs", rl + "Host: abcdefgh%zz\r\n\r\n", http_error::bad_host},
        {"host_unclosed_bracket", rl + "Host: [::1\r\n\r\n", http_error::bad_host},
        // Authorization and Proxy-Authorization are singletons (RFC 9110 §11.6.2, §11.7.2):
        // a second one is refused whichever comes first, never read past.
        {"two_authorization", rl + h + "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
         http_error::repeated_credentials},
        {"two_authorization_same", rl + h + "Authorization: Bearer a\r\nAuthorization: Bearer a\r\n\r\n",
         http_error::repeated_credentials},
        {"two_authorization_any_case", rl + "authorization: a\r\n" + h + "AUTHORIZATION: b\r\n\r\n",
         http_error::repeated_credentials},
        {"two_authorization_empty", rl + h + "Authorization:\r\nAuthorization: \r\n\r\n",
         http_error::repeated_credentials},
        {"authorization_three_times", rl + h + "Authorization: a\r\nAuthorization: b\r\nAuthorization: c\r\n\r\n",
         http_error::repeated_credentials},
        {"two_proxy_authorization", rl + "Proxy-Authorization: a\r\nX-A: 1\r\nproxy-authorization: b\r\n" + h + "\r\n",
         http_error::repeated_credentials},
        {"two_authorization_http10", "GET / HTTP/1.0\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
         http_error::repeated_credentials},
        {"two_authorization_before_expect", rl + h + "Expect: x\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
         http_error::repeated_credentials},
        {"host_before_credentials", rl + h + "Authorization: a\r\nAuthorization: b\r\n" + h + "\r\n",
         http_error::bad_host},
        {"framing_before_credentials", rl + h + "Authorization: a\r\nAuthorization: b\r\nContent-Length: x\r\n\r\n",
         http_error::bad_content_length},
        // Content-Length (RFC 9110 §8.6, RFC 9112 §6.3)
        {"cl_sign", rl + h + "Content-Length: +5\r\n\r\n", http_error::bad_content_length},
        {"cl_negative", rl + h + "Content-Length: -5\r\n\r\n", http_error::bad_content_length},
        {"cl_inner_space", rl + h + "Content-Length: 1 2\r\n\r\n", http_error::bad_content_length},
        {"cl_empty", rl + h + "Content-Length:\r\n\r\n", http_error::bad_content_length},
        {"cl_hex", rl + h + "Content-Length: 0x5\r\n\r\n", http_error::bad_content_length},
        {"cl_overflow", rl + h + "Content-Length: 9223372036854775808\r\n\r\n", http_error::bad_content_length},
        {"cl_overflow_long", rl + h + "Content-Length: 99999999999999999999999\r\n\r\n",
         http_error::bad_content_length},
        {"cl_differing_fields", rl + h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
         http_error::bad_content_length},
        {"cl_differing_list", rl + h + "Content-Length: 5, 6\r\n\r\n", http_error::bad_content_length},
        {"cl_list_empty_member", rl + h + "Content-Length: 5,,5\r\n\r\n", http_error::bad_content_length},
        // Transfer-Encoding (RFC 9112 §6.1, §6.3)
        {"te_with_cl", rl + h + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         http_error::ambiguous_framing},
        {"te_with_cl_zero", rl + h + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
         http_error::ambiguous_framing},
        {"te_on_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", http_error::bad_transfer_encoding},
        {"te_not_ending_chunked", rl + h + "Transfer-Encoding: chunked, gzip\r\n\r\n",
         http_error::bad_transfer_encoding},
        {"te_gzip_only", rl + h + "Transfer-Encoding: gzip\r\n\r\n", http_error::bad_transfer_encoding},
        {"te_chunked_twice", rl + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         http_error::bad_transfer_encoding},
        {"te_chunked_257_times_no_wrap",
         rl + h + "Transfer-Encoding: chunked" +
             [] {
                 std::string s;
                 for (int i = 0; i < 256; ++i) {
                     s += ",chunked";
                 }
                 return s;
             }() +
             "\r\n\r\n",
         http_error::bad_transfer_encoding},
        {"te_empty", rl + h + "Transfer-Encoding:\r\n\r\n", http_error::bad_transfer_encoding},
        {"te_parameters", rl + h + "Transfer-Encoding: gzip;q=1, chunked\r\n\r\n", http_error::bad_transfer_encoding},
        {"te_unknown", rl + h + "Transfer-Encoding: br, chunked\r\n\r\n", http_error::not_implemented},
        {"te_unknown_alone", rl + h + "Transfer-Encoding: foo\r\n\r\n", http_error::not_implemented},
        // Expect (RFC 9110 §10.1.1)
        {"expect_other", rl + h + "Expect: 200-ok\r\n\r\n", http_error::expectation_failed},
        {"expect_list", rl + h + "Expect: 100-continue, x\r\n\r\n", http_error::expectation_failed},
        // limits
        {"uri_too_long",
         "GET /" + std::string(40, 'a') + " HTTP/1.1\r\n" + h + "\r\n",
         http_error::uri_too_long,
         {.max_request_line = 32}},
        {"uri_too_long_incomplete", "GET /" + std::string(40, 'a'), http_error::uri_too_long, {.max_request_line = 32}},
        {"head_too_large",
         rl + h + "X-A: " + std::string(100, 'v') + "\r\n\r\n",
         http_error::header_too_large,
         {.max_head_bytes = 64}},
        {"head_too_large_incomplete",
         rl + h + "X-A: " + std::string(100, 'v'),
         http_error::header_too_large,
         {.max_head_bytes = 64}},
        {"leading_cr_cr", std::string(100, '\r') + "\n", http_error::bad_request, {.max_head_bytes = 64}},
        {"crlf_flood",
         [] {
             std::string s;
             for (int i = 0; i < 40; ++i) {
                 s += "\r\n";
             }
             return s;
         }(),
         http_error::header_too_large,
         {.max_head_bytes = 64}},
        {"too_many_headers", rl + h + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", http_error::header_too_large, {.max_headers = 3}},
        {"too_many_headers_incomplete", rl + h + "A: 1\r\nB: 2\r\nC", http_error::header_too_large, {.max_headers = 3}},
    };
}

class parser_error : public ::testing::TestWithParam<error_case> {};

TEST_P(parser_error, rejects_with_exact_error_on_every_prefix) {
    const error_case& c = GetParam();
    request_head r;
    const parse_outcome o = parse(c.input, r, c.limits);
    ASSERT_EQ(o.status, parse_status::error);
    EXPECT_EQ(o.error, c.error) << "got " << reason_of(o.error);
    check_prefixes(c.input, c.limits);
}

INSTANTIATE_TEST_SUITE_P(table, parser_error, ::testing::ValuesIn(error_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(parser_limits_test, exactly_at_limits_is_accepted) {
    const std::string target = "/" + std::string(17, 'a');
    const std::string in = "GET " + target + " HTTP/1.1\r\n" + h + "\r\n"; // line: 4+18+9 = 31 bytes
    request_head r;
    EXPECT_EQ(parse(in, r, {.max_request_line = 31}).status, parse_status::complete);
    EXPECT_EQ(parse(in, r, {.max_request_line = 30}).error, http_error::uri_too_long);
    EXPECT_EQ(parse(in, r, {.max_head_bytes = in.size()}).status, parse_status::complete);
    EXPECT_EQ(parse(in, r, {.max_head_bytes = in.size() - 1}).error, http_error::header_too_large);
    EXPECT_EQ(parse(in, r, {.max_headers = 1}).status, parse_status::complete);
    EXPECT_EQ(parse(in, r, {.max_headers = 0}).error, http_error::header_too_large);
}

TEST(parser_limits_test, huge_limits_do_not_overflow) {
    const parser_limits huge{.max_request_line = SIZE_MAX, .max_head_bytes = SIZE_MAX, .max_headers = SIZE_MAX};
    request_head r;
    EXPECT_EQ(parse("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", r, huge).status, parse_status::complete);
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n", r, huge).status, parse_status::incomplete);
}

TEST(parser_limits_test, max_header_fields_caps_configured_limit) {
    std::string in = "GET / HTTP/1.1\r\n";
    for (size_t i = 0; i < max_header_fields; ++i) {
        in += "Host-" + std::to_string(i) + ": v\r\n";
    }
    in += h + "\r\n";
    request_head r;
    const parser_limits big{.max_head_bytes = 1 << 20, .max_headers = 1000};
    EXPECT_EQ(parse(in, r, big).error, http_error::header_too_large);
}

TEST(parser_header_views, names_and_values_as_received) {
    const std::string in = "GET / HTTP/1.1\r\nHost: x\r\nX-Mixed-Case:  a b  \r\n\r\n";
    request_head r;
    ASSERT_EQ(parse(in, r).status, parse_status::complete);
    ASSERT_EQ(r.num_headers, 2);
    EXPECT_EQ(r.headers[1].name, "X-Mixed-Case");
    EXPECT_EQ(r.headers[1].value, "a b");
}

TEST(parser_reuse, head_is_reset_between_requests) {
    request_head r;
    ASSERT_EQ(
        parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\nExpect: 100-continue\r\n\r\n", r)
            .status,
        parse_status::complete);
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: b\r\n\r\n", r).status, parse_status::complete);
    EXPECT_EQ(r.body, body_kind::none);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_FALSE(r.expect_continue);
    EXPECT_EQ(r.host, "b");
    EXPECT_EQ(r.num_headers, 1);
}

// The target is checked and split eight bytes at a time where it can: every target length
// up to 40 with a '?' or '#' at every place, and each byte a target may not hold at every
// place, against what a byte-by-byte reading says.
TEST(parser_target_scan, split_and_checked_at_every_length_and_place) {
    for (size_t len = 1; len <= 40; ++len) {
        std::string target(len, 'a');
        target[0] = '/';
        for (size_t k = 1; k < len; ++k) {
            target[k] = static_cast<char>('a' + k % 26);
        }
        for (size_t at = 0; at <= len; ++at) {
            for (char mark : {'?', '#'}) {
                std::string t = target;
                if (at < len && at > 0) {
                    t[at] = mark;
                }
                const std::string in = "GET " + t + " HTTP/1.1\r\nHost: x\r\n\r\n"; // the views point into it
                request_head r;
                ASSERT_EQ(parse(in, r).status, parse_status::complete) << t;
                const size_t end = t.find_first_of("?#");
                EXPECT_EQ(r.target, t);
                EXPECT_EQ(r.path, t.substr(0, end)) << t;
                const std::string want_query =
                    end == std::string::npos || t[end] == '#' ? "" : t.substr(end + 1, t.find('#', end + 1) - end - 1);
                EXPECT_EQ(r.query, want_query) << t;
            }
        }
        for (size_t q = 1; q < len; ++q) { // a '?' and a later '#': the query stops at the '#'
            for (size_t h = q + 1; h < len; ++h) {
                std::string t = target;
                t[q] = '?';
                t[h] = '#';
                const std::string in = "GET " + t + " HTTP/1.1\r\nHost: x\r\n\r\n";
                request_head r;
                ASSERT_EQ(parse(in, r).status, parse_status::complete) << t;
                EXPECT_EQ(r.path, t.substr(0, q)) << t;
                EXPECT_EQ(r.query, t.substr(q + 1, h - q - 1)) << t;
            }
        }
        for (size_t at = 1; at < len; ++at) {
            for (unsigned char bad : {0x00, 0x01, 0x09, 0x1f, 0x7f, 0x80, 0xc3, 0xff}) {
                std::string t = target;
                t[at] = static_cast<char>(bad);
                request_head r;
                const auto out = parse("GET " + t + " HTTP/1.1\r\nHost: x\r\n\r\n", r);
                EXPECT_EQ(out.status, parse_status::error) << len << " " << at << " " << unsigned{bad};
                EXPECT_EQ(out.error, http_error::bad_request) << len << " " << at << " " << unsigned{bad};
            }
            std::string t = target; // a second SP inside: the target ends there, the version is wrong
            t[at] = ' ';
            request_head r;
            EXPECT_EQ(parse("GET " + t + " HTTP/1.1\r\nHost: x\r\n\r\n", r).status, parse_status::error) << t;
        }
    }
}

// An origin-form target's first '?' and any '#' are found in the words that check it:
// two marks of every kind at every pair of places (a '#' first, two '?', two '#'), each
// followed by the byte one above it (a false flag of the word tests may follow a true
// one), in targets of every length to 40; and the same over each method, CONNECT aside.
TEST(parser_target_scan, two_marks_at_every_pair_of_places) {
    const auto want = [](const std::string& t, std::string& path, std::string& query) {
        const size_t end = t.find_first_of("?#");
        path = t.substr(0, end);
        query = end == std::string::npos || t[end] == '#' ? "" : t.substr(end + 1, t.find('#', end + 1) - end - 1);
    };
    for (size_t len = 2; len <= 40; ++len) {
        std::string target(len, 'a');
        target[0] = '/';
        for (size_t k = 1; k < len; ++k) {
            target[k] = static_cast<char>('a' + k % 26);
        }
        for (size_t p = 1; p < len; ++p) {
            for (size_t q = p; q < len; ++q) {
                for (const char* marks : {"#?", "??", "##", "?#", "?>", "#\"", "?@", "#$"}) {
                    std::string t = target;
                    t[p] = marks[0];
                    if (q > p) {
                        t[q] = marks[1];
                    }
                    const std::string in = "GET " + t + " HTTP/1.1\r\nHost: x\r\n\r\n";
                    request_head r;
                    ASSERT_EQ(parse(in, r).status, parse_status::complete) << t;
                    std::string path, query;
                    want(t, path, query);
                    EXPECT_EQ(r.target, t);
                    EXPECT_EQ(r.path, path) << t;
                    EXPECT_EQ(r.query, query) << t;
                }
            }
        }
    }
    for (const char* method : {"POST", "OPTIONS", "HEAD", "BREW"}) {
        const std::string in = std::string(method) + " /a/b?x=1&y=%20 HTTP/1.1\r\nHost: x\r\n\r\n";
        request_head r;
        ASSERT_EQ(parse(in, r).status, parse_status::complete) << method;
        EXPECT_EQ(r.path, "/a/b") << method;
        EXPECT_EQ(r.query, "x=1&y=%20") << method;
    }
    request_head r;
    EXPECT_EQ(parse("CONNECT /a?b HTTP/1.1\r\nHost: x\r\n\r\n", r).error, http_error::bad_request);
}

// A field value is checked eight bytes at a time to its first CTL or DEL: every value
// length up to 40 with an HTAB, an 8-bit byte, a CTL or DEL at every place.
TEST(parser_value_scan, checked_at_every_length_and_place) {
    for (size_t len = 1; len <= 40; ++len) {
        std::string value(len, 'v');
        for (size_t k = 0; k < len; ++k) {
            value[k] = static_cast<char>('a' + k % 26);
        }
        for (size_t at = 1; at + 1 < len; ++at) { // inside: kept as sent
            for (unsigned char ok : {0x09, 0x20, 0x80, 0xc3, 0xff, 0x7e}) {
                std::string v = value;
                v[at] = static_cast<char>(ok);
                const std::string in = "GET / HTTP/1.1\r\nHost: x\r\nX-V: " + v + "\r\n\r\n";
                request_head r;
                ASSERT_EQ(parse(in, r).status, parse_status::complete) << len << " " << at << " " << unsigned{ok};
                ASSERT_EQ(r.num_headers, 2);
                EXPECT_EQ(r.headers[1].value, v) << len << " " << at << " " << unsigned{ok};
            }
        }
        for (size_t at = 0; at < len; ++at) {
            for (unsigned char bad : {0x00, 0x01, 0x0b, 0x1f, 0x7f}) {
                std::string v = value;
                v[at] = static_cast<char>(bad);
                const std::string in = "GET / HTTP/1.1\r\nHost: x\r\nX-V: " + v + "\r\n\r\n";
                request_head r;
                const auto out = parse(in, r);
                EXPECT_EQ(out.status, parse_status::error) << len << " " << at << " " << unsigned{bad};
                EXPECT_EQ(out.error, http_error::bad_request) << len << " " << at << " " << unsigned{bad};
            }
        }
    }
}

struct head_end_case {
    std::string buf;
    size_t from;
    bool expected;
};

TEST(parser_has_head_end, finds_terminator_from_offset_and_straddling) {
    const std::vector<head_end_case> cases = {
        {"GET / HTTP/1.1\r\n\r\n", 0, true},
        {"GET / HTTP/1.1\r\n\r\n", 16, true},  // straddles: "\r\n" before from
        {"GET / HTTP/1.1\r\n\r\n", 17, true},  // only the last byte is new
        {"GET / HTTP/1.1\r\n\r\n", 18, false}, // nothing new
        {"GET / HTTP/1.1\r\n", 0, false},
        {"\r\n\r", 0, false},
        {"", 0, false},
        {"ab", 5, false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(has_head_end(c.buf, c.from), c.expected) << c.buf << " from " << c.from;
    }
}

// A head object remembers the last Host it found valid and skips the check for the same
// bytes: every other value (one byte off, longer, shorter, past the 64 bytes kept) is
// still checked, a bad one after a good one is still refused, and the good one after it
// is still accepted.
TEST(parser_host_memo, a_repeated_host_skips_the_check_and_nothing_else_does) {
    const auto with_host = [](std::string_view host) {
        return "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    };
    request_head r;
    EXPECT_EQ(r.checked_host_len, 0);
    ASSERT_EQ(parse(with_host("localhost:8080"), r, {}).status, parse_status::complete);
    EXPECT_EQ(std::string_view(r.checked_host, r.checked_host_len), "localhost:8080"); // kept
    const std::string again = with_host("localhost:8080"); // r.host views it: it must outlive the check
    ASSERT_EQ(parse(again, r, {}).status, parse_status::complete);
    EXPECT_EQ(r.host, "localhost:8080");
    const std::string_view bad[] = {"localhost:808x",  "localhost:8080/",  "localhost:8080 x", "localhost:8080@",
                                    "localhos t:8080", "localhost:8080:1", "[localhost:8080"};
    for (std::string_view h : bad) {
        EXPECT_EQ(parse(with_host(h), r, {}).error, http_error::bad_host) << h;
        EXPECT_EQ(std::string_view(r.checked_host, r.checked_host_len), "localhost:8080") << h; // unchanged
        ASSERT_EQ(parse(with_host("localhost:8080"), r, {}).status, parse_status::complete) << h;
    }
    ASSERT_EQ(parse(with_host("localhost"), r, {}).status, parse_status::complete); // a prefix: checked, kept
    EXPECT_EQ(std::string_view(r.checked_host, r.checked_host_len), "localhost");
    const std::string long_host = std::string(70, 'a') + ".example";
    ASSERT_EQ(parse(with_host(long_host), r, {}).status, parse_status::complete); // checked, not kept
    EXPECT_EQ(std::string_view(r.checked_host, r.checked_host_len), "localhost");
    EXPECT_EQ(parse(with_host(long_host + "/"), r, {}).error, http_error::bad_host);
    EXPECT_EQ(parse(with_host(std::string(64, 'b') + "%zz"), r, {}).error, http_error::bad_host);
    const std::string sixty_four = std::string(59, 'c') + ":8080";
    ASSERT_EQ(parse(with_host(sixty_four), r, {}).status, parse_status::complete);
    EXPECT_EQ(std::string_view(r.checked_host, r.checked_host_len), sixty_four);
    EXPECT_EQ(parse(with_host(sixty_four + "x"), r, {}).error, http_error::bad_host);
}

// What the access log names of a request refused before its head parsed (414, 400, 431,
// a timeout): the request line as far as it came.
TEST(parser_scan_request_line, the_request_line_as_far_as_it_came) {
    struct scan_case {
        const char* input;
        const char* method;
        const char* target;
        uint8_t version_minor;
    };
    const std::vector<scan_case> cases = {
        {"GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/a?b=c", 1},
        {"POST /up HTTP/1.0\r\n", "POST", "/up", 0},
        {"GET /cut-in-the-middl", "GET", "/cut-in-the-middl", 1},    // a 414: the line never ended
        {"GET /bad\001byte HTTP/1.1\r\n", "GET", "/bad\001byte", 1}, // a control byte: the log escapes it
        {"\r\n\r\nDELETE /after-empty-lines HTTP/1.1\r\n", "DELETE", "/after-empty-lines", 1},
        {"CONNECT example.com:443 HTTP/1.1\r\n", "CONNECT", "example.com:443", 1},
        {"GET", "", "", 1}, // no space yet: not known to be a method
        {"GET ", "GET", "", 1},
        {"G(T / HTTP/1.1\r\n", "", "", 1},                  // not a token
        {"\x16\x03\x01\x02\xa5\x01 / HTTP/1.1", "", "", 1}, // a TLS hello on a plaintext port
        {"", "", "", 1},
    };
    for (const scan_case& c : cases) {
        request_line_start line = scan_request_line(c.input);
        EXPECT_EQ(line.method, c.method) << c.input;
        EXPECT_EQ(line.target, c.target) << c.input;
        EXPECT_EQ(line.version_minor, c.version_minor) << c.input;
    }
}

} // namespace
} // namespace ringbolt::http
