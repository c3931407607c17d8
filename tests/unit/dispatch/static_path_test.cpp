// Tests for dispatch/static_path (the traversal wall), http/byte_range (Range), http/
// accept_encoding (q-values), http/http_date and http/mime_types: tables of cases.
#include "dispatch/static_path.hpp"
#include "http/accept_encoding.hpp"
#include "http/byte_range.hpp"
#include "http/http_date.hpp"
#include "http/mime_types.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <initializer_list>
#include <vector>

#include <string>
#include <string_view>

using namespace ringbolt::dispatch;
using namespace ringbolt::http;
using namespace std::literals;

namespace {

struct path_case {
    std::string_view rest;
    static_path_status status;
    std::string_view out; ///< when ok
    bool slash;           ///< when ok
};

constexpr path_case path_cases[] = {
    {"", static_path_status::ok, "", false},
    {"/", static_path_status::ok, "", true},
    {"/a.txt", static_path_status::ok, "a.txt", false},
    {"/dir/", static_path_status::ok, "dir", true},
    {"/dir/sub/f.css", static_path_status::ok, "dir/sub/f.css", false},
    {"/caf%C3%A9.txt", static_path_status::ok, "caf\xC3\xA9.txt", false},
    {"/a%20b", static_path_status::ok, "a b", false},
    {"/%252e%252e/x", static_path_status::ok, "%2e%2e/x", false}, // decoded once: a literal name
    {"/a..b", static_path_status::ok, "a..b", false},
    {"/..", static_path_status::not_found, "", false},
    {"/.", static_path_status::not_found, "", false},
    {"/a/../b", static_path_status::not_found, "", false},
    {"/a/./b", static_path_status::not_found, "", false},
    {"/%2e%2e/secret", static_path_status::not_found, "", false},
    {"/%2E%2e/secret", static_path_status::not_found, "", false},
    {"/.%2e/secret", static_path_status::not_found, "", false},
    {"/%2e/x", static_path_status::not_found, "", false},
    {"/a%2f..%2fsecret", static_path_status::not_found, "", false},
    {"/a%2Fb", static_path_status::not_found, "", false},
    {"/a%5cb", static_path_status::not_found, "", false},
    {"/a\\b", static_path_status::not_found, "", false},
    {"/..\\secret", static_path_status::not_found, "", false},
    {"/a%00.txt", static_path_status::not_found, "", false},
    {"/a%0a", static_path_status::not_found, "", false},
    {"/a%7f", static_path_status::not_found, "", false},
    {"//etc/passwd", static_path_status::not_found, "", false},
    {"/a//b", static_path_status::not_found, "", false},
    {"/.env", static_path_status::not_found, "", false},
    {"/.git/config", static_path_status::not_found, "", false},
    {"/%2egit/config", static_path_status::not_found, "", false},
    {"x/a", static_path_status::not_found, "", false},
    {"/a%", static_path_status::bad_request, "", false},
    {"/a%2", static_path_status::bad_request, "", false},
    {"/a%zz", static_path_status::bad_request, "", false},
    {"/%%32%65", static_path_status::bad_request, "", false},
};

TEST(StaticPath, Table) {
    std::string out;
    for (const path_case& c : path_cases) {
        SCOPED_TRACE(std::string(c.rest));
        static_path r = sanitize_static_path(c.rest, false, out);
        EXPECT_EQ(r.status, c.status);
        if (c.status == static_path_status::ok) {
            EXPECT_EQ(out, c.out);
            EXPECT_EQ(r.trailing_slash, c.slash);
        }
    }
}

TEST(StaticPath, DotfilesWhenAsked) {
    std::string out;
    EXPECT_EQ(sanitize_static_path("/.well-known/x", true, out).status, static_path_status::ok);
    EXPECT_EQ(out, ".well-known/x");
    EXPECT_EQ(sanitize_static_path("/../x", true, out).status, static_path_status::not_found);
    EXPECT_EQ(sanitize_static_path("/%2e%2e/x", true, out).status, static_path_status::not_found);
}

TEST(StaticPath, LengthCap) {
    std::string out;
    std::string longname = "/" + std::string(max_static_path + 1, 'a');
    EXPECT_EQ(sanitize_static_path(longname, false, out).status, static_path_status::not_found);
}

struct range_case {
    std::string_view value;
    uint64_t size;
    range_kind kind;
    uint64_t first;
    uint64_t length;
};

constexpr range_case range_cases[] = {
    {"bytes=0-0", 10, range_kind::single, 0, 1},
    {"bytes=0-9", 10, range_kind::single, 0, 10},
    {"bytes=0-99", 10, range_kind::single, 0, 10},
    {"bytes=5-", 10, range_kind::single, 5, 5},
    {"bytes=-3", 10, range_kind::single, 7, 3},
    {"bytes=-30", 10, range_kind::single, 0, 10},
    {"BYTES=1-2", 10, range_kind::single, 1, 2},
    {"bytes= 1-2 ", 10, range_kind::single, 1, 2},
    {"bytes=1-2,", 10, range_kind::single, 1, 2},
    {"bytes=10-", 10, range_kind::unsatisfiable, 0, 0},
    {"bytes=10-20", 10, range_kind::unsatisfiable, 0, 0},
    {"bytes=-0", 10, range_kind::unsatisfiable, 0, 0},
    {"bytes=0-", 0, range_kind::unsatisfiable, 0, 0},
    {"bytes=-5", 0, range_kind::unsatisfiable, 0, 0},
    {"bytes=0-1,4-5", 10, range_kind::multiple, 0, 0},
    {"bytes=0-1,20-30", 10, range_kind::multiple, 0, 0},
    {"bytes=20-30,40-50", 10, range_kind::unsatisfiable, 0, 0},
    {"bytes=5-1", 10, range_kind::none, 0, 0},
    {"bytes=", 10, range_kind::none, 0, 0},
    {"bytes=,", 10, range_kind::none, 0, 0},
    {"bytes=a-b", 10, range_kind::none, 0, 0},
    {"bytes=1", 10, range_kind::none, 0, 0},
    {"bytes=--1", 10, range_kind::none, 0, 0},
    {"bytes=1-2-3", 10, range_kind::none, 0, 0},
    {"bytes=+1-2", 10, range_kind::none, 0, 0},
    {"items=0-1", 10, range_kind::none, 0, 0},
    {"bytes 0-1", 10, range_kind::none, 0, 0},
    {"bytes=99999999999999999999-", 10, range_kind::none, 0, 0},
    {"", 10, range_kind::none, 0, 0},
};

TEST(ByteRange, Table) {
    for (const range_case& c : range_cases) {
        SCOPED_TRACE(std::string(c.value) + " size " + std::to_string(c.size));
        byte_range r = parse_byte_range(c.value, c.size);
        EXPECT_EQ(r.kind, c.kind);
        if (c.kind == range_kind::single) {
            EXPECT_EQ(r.first, c.first);
            EXPECT_EQ(r.length, c.length);
        }
    }
}

// The static server's use of the shared Accept-Encoding parser (its own tests are in
// accept_encoding_test.cpp): which precompressed sibling a client gets, given the
// siblings that exist, in the server's order zstd, br, gzip.
content_coding pick_sibling(std::string_view value, std::initializer_list<content_coding> existing) {
    accept_encoding ae;
    if (!parse_accept_encoding(value, ae)) {
        return content_coding::identity; // a field that does not parse: identity only
    }
    std::vector<content_coding> offered;
    for (content_coding c : {content_coding::zstd, content_coding::br, content_coding::gzip}) {
        if (std::find(existing.begin(), existing.end(), c) != existing.end()) {
            offered.push_back(c);
        }
    }
    return choose_coding(ae, offered);
}

TEST(AcceptEncoding, SiblingChoice) {
    using enum content_coding;
    struct sibling_case {
        std::string_view field; ///< Accept-Encoding
        content_coding want;    ///< the sibling served when .zst, .br and .gz all exist
    };
    const sibling_case cases[] = {
        {"gzip, deflate, br, zstd", zstd},
        {"gzip, br", br},
        {"gzip", gzip},
        {"GZIP", gzip},
        {"x-gzip", gzip},
        {"gzip;q=0.5, br;q=0.8", br},
        {"gzip;q=1.0, br;q=0.999", gzip},
        {"zstd;q=0, gzip", gzip},
        {"*", zstd},
        {"*;q=0.1, gzip;q=0.5", gzip},
        {"identity;q=1, gzip;q=0.5", identity},
        {"gzip ; q = 0.3", identity}, // no whitespace around '=' (RFC 9110 §5.6.6)
        {"deflate", identity},
        {"", identity},
        {",,,", identity},
        // Malformed: the whole field is ignored (identity), never a loop or a guess.
        {"br;q=2, gzip", identity},
        {"br;q=0.1234", identity},
        {"gzip;a=1;b=2;q=0.5, br;x;y;q=0.4", identity},
        {"br;level=1;q=0;x, gzip;y", identity},
    };
    for (const sibling_case& c : cases) {
        EXPECT_EQ(pick_sibling(c.field, {zstd, br, gzip}), c.want) << "Accept-Encoding: " << c.field;
    }
    EXPECT_EQ(pick_sibling("gzip, br", {gzip}), gzip); // only .gz exists
}

TEST(HttpDate, Forms) {
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
    EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), -1);
    EXPECT_EQ(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), -1);
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), -1);
    EXPECT_EQ(parse_http_date("yesterday"), -1);
    EXPECT_EQ(parse_http_date(""), -1);
}

TEST(MimeTypes, Table) {
    EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8"sv);
    EXPECT_EQ(content_type_for("a/b/APP.JS"), "text/javascript; charset=utf-8"sv);
    EXPECT_EQ(content_type_for("x.css"), "text/css; charset=utf-8"sv);
    EXPECT_EQ(content_type_for("p.png"), "image/png"sv);
    EXPECT_EQ(content_type_for("d.json"), "application/json"sv);
    EXPECT_EQ(content_type_for("noext"), "application/octet-stream"sv);
    EXPECT_EQ(content_type_for("dir.d/noext"), "application/octet-stream"sv);
    EXPECT_EQ(content_type_for("x."), "application/octet-stream"sv);
    EXPECT_EQ(content_type_for("f.unknownextension"), "application/octet-stream"sv);
}

} // namespace
