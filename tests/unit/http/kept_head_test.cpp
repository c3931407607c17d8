// Unit tests for http/kept_head.cpp: a head kept, its bytes moved (copied elsewhere, the
// original overwritten), and restored over the new place equals a parse of the new place.
#include "http/kept_head.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringbolt::http {
namespace {

void expect_same(const request_head& a, const request_head& b, std::string_view where) {
    EXPECT_EQ(a.method, b.method);
    EXPECT_EQ(a.method_id, b.method_id);
    EXPECT_EQ(a.target, b.target);
    EXPECT_EQ(a.path, b.path);
    EXPECT_EQ(a.query, b.query);
    EXPECT_EQ(a.host, b.host);
    EXPECT_EQ(a.version_minor, b.version_minor);
    EXPECT_EQ(a.body, b.body);
    EXPECT_EQ(a.content_length, b.content_length);
    EXPECT_EQ(a.keep_alive, b.keep_alive);
    EXPECT_EQ(a.expect_continue, b.expect_continue);
    EXPECT_EQ(a.upgrade, b.upgrade);
    EXPECT_EQ(a.head_bytes, b.head_bytes);
    ASSERT_EQ(a.num_headers, b.num_headers);
    for (uint16_t i = 0; i < a.num_headers; ++i) {
        EXPECT_EQ(a.headers[i].name, b.headers[i].name);
        EXPECT_EQ(a.headers[i].value, b.headers[i].value);
        // Every view points into `where`, the bytes as they are now.
        EXPECT_GE(a.headers[i].name.data(), where.data());
        EXPECT_LE(a.headers[i].value.data() + a.headers[i].value.size(), where.data() + where.size());
    }
    EXPECT_GE(a.path.data(), where.data());
    EXPECT_LE(a.path.data() + a.path.size(), where.data() + where.size());
}

TEST(KeptHead, RestoredOverMovedBytesEqualsAParseOfThem) {
    const std::string heads[] = {
        "GET /baseline11?a=13&b=42 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        "PUT http://example.com HTTP/1.1\r\nHost: example.com\r\nContent-Length: 12\r\nX-Empty:\r\n"
        "Connection: close\r\n\r\n",
        "GET /ws HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
    };
    parser_limits limits;
    for (const std::string& h : heads) {
        std::string original = h + "body bytes that follow";
        request_head parsed;
        ASSERT_EQ(parse_request_head(original, parsed, limits).status, parse_status::complete) << h;
        kept_head kept;
        kept.keep(parsed, original);
        EXPECT_EQ(kept.head_bytes(), h.size());
        std::string moved = "prefix" + original; // elsewhere, and not at the same offsets
        std::string_view now = std::string_view(moved).substr(6);
        original.assign(original.size(), 'x'); // the old place holds nothing of the head
        request_head restored;
        restored.num_headers = 99; // whatever the scratch held before
        kept.restore(now, restored);
        request_head expected;
        ASSERT_EQ(parse_request_head(now, expected, limits).status, parse_status::complete);
        expect_same(restored, expected, now.substr(0, h.size()));
    }
}

TEST(KeptHead, ReleaseFreesAndKeepAfterItWorks) {
    parser_limits limits;
    std::string a = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n";
    request_head parsed;
    ASSERT_EQ(parse_request_head(a, parsed, limits).status, parse_status::complete);
    kept_head kept;
    kept.keep(parsed, a);
    kept.release();
    EXPECT_EQ(kept.head_bytes(), 0u);
    kept.keep(parsed, a);
    request_head restored;
    kept.restore(a, restored);
    expect_same(restored, parsed, a);
}

} // namespace
} // namespace ringbolt::http
