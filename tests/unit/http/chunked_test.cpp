// Unit tests for http/chunked.cpp: tables of valid and invalid chunked bodies, each fed
// in one piece, one byte at a time and split at every offset, with identical results.
#include "http/chunked.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt::http {
namespace {

struct decode_result {
    chunked_status status = chunked_status::incomplete;
    http_error error = http_error::none;
    size_t consumed = 0; ///< total over all feeds
    std::string body;

    bool operator==(const decode_result&) const = default;
};

/// Feeds `in` in pieces ending at `cuts` (sorted offsets), stopping at the first
/// non-incomplete outcome.
decode_result decode_split(std::string_view in, const std::vector<size_t>& cuts, const chunked_limits& limits) {
    chunked_decoder d(limits);
    decode_result r;
    size_t pos = 0;
    auto feed_to = [&](size_t end) {
        // Each piece gets its own allocation so ASan sees reads past the piece.
        const std::string piece(in.substr(pos, end - pos));
        const chunked_outcome o = d.feed(piece, r.body);
        r.status = o.status;
        r.error = o.error;
        r.consumed += o.consumed;
        if (o.status == chunked_status::incomplete) {
            EXPECT_EQ(o.consumed, piece.size());
        }
        pos = end;
        return o.status == chunked_status::incomplete;
    };
    for (size_t cut : cuts) {
        if (!feed_to(cut)) {
            return r;
        }
    }
    feed_to(in.size());
    return r;
}

decode_result decode(std::string_view in, const chunked_limits& limits = {}) {
    return decode_split(in, {}, limits);
}

/// One-shot, one byte at a time and every two-piece split must all agree.
void check_all_splits(const std::string& in, const decode_result& expected, const chunked_limits& limits) {
    std::vector<size_t> bytewise;
    for (size_t i = 1; i < in.size(); ++i) {
        bytewise.push_back(i);
    }
    const decode_result one = decode_split(in, bytewise, limits);
    EXPECT_EQ(one.status, expected.status) << "byte at a time";
    EXPECT_EQ(one.error, expected.error) << "byte at a time";
    EXPECT_EQ(one.consumed, expected.consumed) << "byte at a time";
    EXPECT_EQ(one.body, expected.body) << "byte at a time";
    for (size_t cut = 0; cut <= in.size(); ++cut) {
        const decode_result r = decode_split(in, {cut}, limits);
        ASSERT_TRUE(r == expected) << "split at " << cut;
    }
}

struct valid_case {
    const char* name;
    std::string input;
    std::string body;
    size_t consumed = 0; ///< 0: the whole input
    chunked_limits limits = {};
};

std::ostream& operator<<(std::ostream& os, const valid_case& c) {
    return os << c.name;
}

std::vector<valid_case> valid_cases() {
    return {
        {"empty_body", "0\r\n\r\n", ""},
        {"one_chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
        {"two_chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
        {"hex_upper_lower", "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", "0123456789abcdefghijk"},
        {"leading_zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
        {"binary_data", std::string("4\r\n\0\r\n\xff\r\n0\r\n\r\n", 14), std::string("\0\r\n\xff", 4)},
        {"ext_name_only", "5;foo\r\nhello\r\n0\r\n\r\n", "hello"},
        {"ext_token_value", "5;foo=bar\r\nhello\r\n0;last=yes\r\n\r\n", "hello"},
        {"ext_quoted_value", "5;foo=\"b a\\\"r;\"\r\nhello\r\n0\r\n\r\n", "hello"},
        {"ext_several_with_bws", "5 ; a = 1 ;b\t;c=\"x\" \r\nhello\r\n0\r\n\r\n", "hello"},
        {"trailer_fields", "5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Empty:\r\nX-B:  v\t w \r\n\r\n", "hello"},
        {"trailer_obs_text", "1\r\na\r\n0\r\nX-U: \xC3\xA9\r\n\r\n", "a"},
        {"pipelined_rest_not_consumed", "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", "abc", 13},
        {"body_exactly_at_limit", "5\r\nhello\r\n0\r\n\r\n", "hello", 0, {.max_body = 5}},
        {"size_line_at_limit", "5;a=1\r\nhello\r\n0\r\n\r\n", "hello", 0, {.max_chunk_line = 5}},
        {"trailer_at_limit", "0\r\nA: b\r\n\r\n", "", 0, {.max_trailer_bytes = 8}},
    };
}

class chunked_valid : public ::testing::TestWithParam<valid_case> {};

TEST_P(chunked_valid, decodes_identically_for_every_split) {
    const valid_case& c = GetParam();
    const decode_result r = decode(c.input, c.limits);
    ASSERT_EQ(r.status, chunked_status::complete) << reason_of(r.error);
    EXPECT_EQ(r.body, c.body);
    EXPECT_EQ(r.consumed, c.consumed ? c.consumed : c.input.size());
    check_all_splits(c.input, r, c.limits);
}

INSTANTIATE_TEST_SUITE_P(table, chunked_valid, ::testing::ValuesIn(valid_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

struct error_case {
    const char* name;
    std::string input;
    http_error error;
    chunked_limits limits = {};
};

std::ostream& operator<<(std::ostream& os, const error_case& c) {
    return os << c.name;
}

std::vector<error_case> error_cases() {
    return {
        // chunk-size = 1*HEXDIG (RFC 9112 §7.1)
        {"empty_size", "\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"leading_space", " 5\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"sign", "+5\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"negative", "-5\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"0x_prefix", "0x5\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"non_hex", "5g\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"trailing_space_without_ext", "5 \r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"overflow", "8000000000000000\r\n", http_error::bad_chunk},
        {"overflow_long", "fffffffffffffffffff\r\n", http_error::bad_chunk},
        {"size_bare_lf", "5\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"size_bare_cr", "5\rhello\r\n0\r\n\r\n", http_error::bad_chunk},
        // chunk-ext (§7.1.1)
        {"ext_empty_name", "5;\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"ext_bad_name", "5;a(b\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"ext_empty_value", "5;a=\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"ext_ws_at_end", "5;a \r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"ext_unterminated_quote", "5;a=\"x\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"ext_quote_ctl", "5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"ext_value_after_quote", "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"ext_ctl", "5;a=b\x01\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        // chunk-data CRLF
        {"data_too_long", "5\r\nhello!\r\n0\r\n\r\n", http_error::bad_chunk},
        {"data_missing_crlf", "5\r\nhello0\r\n\r\n", http_error::bad_chunk},
        {"data_bare_lf", "5\r\nhello\n0\r\n\r\n", http_error::bad_chunk},
        {"data_cr_no_lf", "5\r\nhello\rX0\r\n\r\n", http_error::bad_chunk},
        // trailer-section (§7.1.2)
        {"trailer_obs_fold", "0\r\nA: b\r\n c\r\n\r\n", http_error::bad_chunk},
        {"trailer_space_before_colon", "0\r\nA : b\r\n\r\n", http_error::bad_chunk},
        {"trailer_no_colon", "0\r\nAb\r\n\r\n", http_error::bad_chunk},
        {"trailer_empty_name", "0\r\n: b\r\n\r\n", http_error::bad_chunk},
        {"trailer_value_ctl", "0\r\nA: \x01\r\n\r\n", http_error::bad_chunk},
        {"trailer_bare_lf", "0\r\nA: b\n\r\n", http_error::bad_chunk},
        {"final_bare_lf", "0\r\n\n", http_error::bad_chunk},
        {"final_cr_no_lf", "0\r\n\rX", http_error::bad_chunk},
        // limits
        {"body_too_large", "6\r\nhello!\r\n0\r\n\r\n", http_error::body_too_large, {.max_body = 5}},
        {"body_too_large_second_chunk",
         "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
         http_error::body_too_large,
         {.max_body = 5}},
        {"body_too_large_huge_chunk", "7fffffffffffffff\r\n", http_error::body_too_large},
        {"size_line_too_long", "5;a=12\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk, {.max_chunk_line = 5}},
        {"size_line_zeros_too_long", std::string(5000, '0') + "5\r\nhello\r\n0\r\n\r\n", http_error::bad_chunk},
        {"trailer_too_large", "0\r\nA: bc\r\n\r\n", http_error::header_too_large, {.max_trailer_bytes = 8}},
        {"trailer_too_large_incomplete",
         "0\r\nA: " + std::string(100, 'v'),
         http_error::header_too_large,
         {.max_trailer_bytes = 64}},
    };
}

class chunked_error : public ::testing::TestWithParam<error_case> {};

TEST_P(chunked_error, rejects_identically_for_every_split) {
    const error_case& c = GetParam();
    const decode_result r = decode(c.input, c.limits);
    ASSERT_EQ(r.status, chunked_status::error);
    EXPECT_EQ(r.error, c.error) << "got " << reason_of(r.error);
    check_all_splits(c.input, r, c.limits);
}

INSTANTIATE_TEST_SUITE_P(table, chunked_error, ::testing::ValuesIn(error_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(chunked_decoder_state, error_and_completion_are_sticky_and_reset_clears) {
    chunked_decoder d;
    std::string body;
    EXPECT_EQ(d.feed("x", body).status, chunked_status::error);
    const chunked_outcome again = d.feed("5\r\nhello\r\n0\r\n\r\n", body);
    EXPECT_EQ(again.status, chunked_status::error);
    EXPECT_EQ(again.error, http_error::bad_chunk);
    d.reset();
    EXPECT_EQ(d.feed("5\r\nhello\r\n0\r\n\r\n", body).status, chunked_status::complete);
    EXPECT_EQ(body, "hello");
    EXPECT_EQ(d.decoded_bytes(), 5u);
    const chunked_outcome after = d.feed("more", body);
    EXPECT_EQ(after.status, chunked_status::complete);
    EXPECT_EQ(after.consumed, 0u);
    d.reset();
    EXPECT_EQ(d.decoded_bytes(), 0u);
}

TEST(chunked_decoder_state, incomplete_consumes_everything) {
    chunked_decoder d;
    std::string body;
    const chunked_outcome o = d.feed("5\r\nhel", body);
    EXPECT_EQ(o.status, chunked_status::incomplete);
    EXPECT_EQ(o.consumed, 6u);
    EXPECT_EQ(body, "hel");
}

TEST(chunked_decoder_state, large_body_in_many_chunks) {
    std::string in;
    std::string expected;
    for (int i = 0; i < 64; ++i) {
        const std::string chunk(256, static_cast<char>('a' + i % 26));
        in += "100\r\n" + chunk + "\r\n";
        expected += chunk;
    }
    in += "0\r\n\r\n";
    const decode_result r = decode(in);
    ASSERT_EQ(r.status, chunked_status::complete);
    EXPECT_EQ(r.body, expected);
    EXPECT_EQ(r.consumed, in.size());
}

} // namespace
} // namespace ringbolt::http
