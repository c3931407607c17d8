// Tests for http/query: percent_decode, needs_decoding and for_each_query_param.
// The query table's expectations were produced with Python 3.11's
// urllib.parse.parse_qsl(q, keep_blank_values=True) on byte strings (latin-1 round trip).
#include "http/query.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::literals;
using ringbolt::http::for_each_query_param;
using ringbolt::http::needs_decoding;
using ringbolt::http::percent_decode;

namespace {

using pair_list = std::vector<std::pair<std::string, std::string>>;

pair_list split(std::string_view q) {
    pair_list out;
    for_each_query_param(q, [&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
    return out;
}

struct query_case {
    std::string_view query;
    pair_list expected;
};

// Expected values: parse_qsl(query, keep_blank_values=True), bytes in and out.
const std::vector<query_case> query_cases = {
    {""sv, {}},
    {"a=1"sv, {{"a"s, "1"s}}},
    {"a=1&b=2"sv, {{"a"s, "1"s}, {"b"s, "2"s}}},
    {"a=1&&b=2"sv, {{"a"s, "1"s}, {"b"s, "2"s}}},
    {"&"sv, {}},
    {"&&&"sv, {}},
    {"a"sv, {{"a"s, ""s}}},
    {"a&b"sv, {{"a"s, ""s}, {"b"s, ""s}}},
    {"a="sv, {{"a"s, ""s}}},
    {"="sv, {{""s, ""s}}},
    {"=x"sv, {{""s, "x"s}}},
    {"a=1=2"sv, {{"a"s, "1=2"s}}},
    {"a=="sv, {{"a"s, "="s}}},
    {"a+b=c+d"sv, {{"a b"s, "c d"s}}},
    {"a%20b=c%20d"sv, {{"a b"s, "c d"s}}},
    {"a=%41%42"sv, {{"a"s, "AB"s}}},
    {"a=%4a%4A"sv, {{"a"s, "JJ"s}}},
    {"a=%zz"sv, {{"a"s, "%zz"s}}},
    {"a=%4"sv, {{"a"s, "%4"s}}},
    {"a=%"sv, {{"a"s, "%"s}}},
    {"a=%%41"sv, {{"a"s, "%A"s}}},
    {"a=%41%zz%42"sv, {{"a"s, "A%zzB"s}}},
    {"%=%"sv, {{"%"s, "%"s}}},
    {"a=%2B"sv, {{"a"s, "+"s}}},
    {"a=+"sv, {{"a"s, " "s}}},
    {"a=%2b+%2B"sv, {{"a"s, "+ +"s}}},
    {"q=caf%C3%A9"sv,
     {{"q"s, "caf\xc3"
             "\xa9"
             ""s}}},
    {"q=caf\xc3"
     "\xa9"
     ""sv,
     {{"q"s, "caf\xc3"
             "\xa9"
             ""s}}},
    {"q=%FF%FE"sv,
     {{"q"s, "\xff"
             "\xfe"
             ""s}}},
    {"a;b=1"sv, {{"a;b"s, "1"s}}},
    {"a=1;b=2"sv, {{"a"s, "1;b=2"s}}},
    {"x=%00y"sv,
     {{"x"s, "\x00"
             "y"s}}},
    {"a=1&b=two&c=three%20x&d=4"sv, {{"a"s, "1"s}, {"b"s, "two"s}, {"c"s, "three x"s}, {"d"s, "4"s}}},
    {"&a=1&"sv, {{"a"s, "1"s}}},
    {"a=%+1"sv, {{"a"s, "% 1"s}}},
    {"%41=%61"sv, {{"A"s, "a"s}}},
    {"k=v&k=w"sv, {{"k"s, "v"s}, {"k"s, "w"s}}},
    {"a=b%3Dc%26d"sv, {{"a"s, "b=c&d"s}}},
    {"?a=1"sv, {{"?a"s, "1"s}}},
    {"a=%e2%82%ac&b=%E2%82"sv,
     {{"a"s, "\xe2"
             "\x82"
             "\xac"
             ""s},
      {"b"s, "\xe2"
             "\x82"
             ""s}}},
    {"a=%g1"sv, {{"a"s, "%g1"s}}},
    {"a=%1g"sv, {{"a"s, "%1g"s}}},
    {"+=+"sv, {{" "s, " "s}}},
    {"%2=x"sv, {{"%2"s, "x"s}}},
    {"a%=b"sv, {{"a%"s, "b"s}}},
};

TEST(query, matches_python_parse_qsl) {
    for (const auto& c : query_cases) {
        EXPECT_EQ(split(c.query), c.expected) << "query: " << c.query;
    }
}

TEST(query, empty_views) {
    EXPECT_TRUE(split(std::string_view{}).empty());
    std::string out;
    EXPECT_TRUE(percent_decode(std::string_view{}, out, true));
    EXPECT_EQ(out, "");
}

TEST(query, long_pair_uses_heap_scratch) {
    std::string q = "n=";
    for (int i = 0; i < 200; ++i) {
        q += "%41";
    }
    q += "&m=";
    for (int i = 0; i < 100; ++i) {
        q += "x%20";
    }
    std::string m;
    for (int i = 0; i < 100; ++i) {
        m += "x ";
    }
    const pair_list expected = {{"n", std::string(200, 'A')}, {"m", m}};
    EXPECT_EQ(split(q), expected);
}

TEST(query, undecoded_pieces_point_into_the_query) {
    const std::string_view q = "alpha=1&beta=two";
    for_each_query_param(q, [&](std::string_view n, std::string_view v) {
        EXPECT_GE(n.data(), q.data());
        EXPECT_LE(v.data() + v.size(), q.data() + q.size());
    });
}

TEST(query, nested_split_in_callback) {
    std::vector<std::string> seen;
    for_each_query_param("a=x%3D1%26y%3D2&b=c%3D3", [&](std::string_view n, std::string_view v) {
        for_each_query_param(v, [&](std::string_view n2, std::string_view v2) {
            seen.push_back(std::string(n) + "." + std::string(n2) + "=" + std::string(v2));
        });
    });
    const std::vector<std::string> expected = {"a.x=1", "a.y=2", "b.c=3"};
    EXPECT_EQ(seen, expected);
}

struct decode_case {
    std::string_view in;
    bool plus_as_space;
    bool ok;
    std::string expected; // when ok
};

const std::vector<decode_case> decode_cases = {
    {""sv, false, true, ""s},
    {"plain"sv, false, true, "plain"s},
    {"a%20b"sv, false, true, "a b"s},
    {"a+b"sv, false, true, "a+b"s},
    {"a+b"sv, true, true, "a b"s},
    {"%2F%2f"sv, false, true, "//"s},
    {"%41%4a%4A%6a"sv, false, true, "AJJj"s},
    {"caf%C3%A9"sv, false, true, "caf\xc3\xa9"s},
    {"%00"sv, false, true, "\x00"s},
    {"%FF"sv, false, true, "\xff"s},
    {"%25"sv, false, true, "%"s},
    {"%2525"sv, false, true, "%25"s},
    {"%"sv, false, false, ""s},
    {"%4"sv, false, false, ""s},
    {"a%zz"sv, false, false, ""s},
    {"%g0"sv, false, false, ""s},
    {"%0g"sv, false, false, ""s},
    {"ok%2"sv, true, false, ""s},
    {"%+1"sv, true, false, ""s},
};

TEST(query, percent_decode_table) {
    for (const auto& c : decode_cases) {
        std::string out = "pre:";
        const bool ok = percent_decode(c.in, out, c.plus_as_space);
        EXPECT_EQ(ok, c.ok) << "input: " << c.in;
        if (c.ok && ok) {
            EXPECT_EQ(out, "pre:" + c.expected) << "input: " << c.in; // appends
        }
    }
}

struct needs_case {
    std::string_view in;
    bool plus_as_space;
    bool expected;
};

const std::vector<needs_case> needs_cases = {
    {std::string_view{}, false, false}, // null data(): must not reach memchr
    {""sv, false, false},
    {""sv, true, false},
    {"abc"sv, true, false},
    {"a+b"sv, false, false},
    {"a+b"sv, true, true},
    {"a%20"sv, false, true},
    {"%"sv, true, true},
    {"/users/42"sv, false, false},
};

TEST(query, needs_decoding_table) {
    for (const auto& c : needs_cases) {
        EXPECT_EQ(needs_decoding(c.in, c.plus_as_space), c.expected) << c.in << " plus=" << c.plus_as_space;
    }
}

// The one pass over the whole query that finds a '%' or '+' (eight bytes at a time, then
// the tail): one escape at every place of queries of every length up to 40 (in a word,
// in the tail, at a word's edges) is decoded; with none, every piece is as sent.
TEST(query, an_escape_anywhere_is_decoded) {
    for (size_t len = 3; len <= 40; ++len) {
        std::string plain = "k=";
        while (plain.size() < len) {
            plain.push_back(static_cast<char>('a' + plain.size() % 26));
        }
        ASSERT_EQ(split(plain), (pair_list{{"k", plain.substr(2)}})) << plain;
        for (size_t at = 2; at < len; ++at) {
            std::string plus = plain;
            plus[at] = '+';
            std::string spaced = plain.substr(2);
            spaced[at - 2] = ' ';
            EXPECT_EQ(split(plus), (pair_list{{"k", spaced}})) << plus;
            if (at + 2 < len) {
                std::string pct = plain;
                pct.replace(at, 3, "%41");
                std::string decoded = plain.substr(2, at - 2) + "A" + plain.substr(at + 3);
                EXPECT_EQ(split(pct), (pair_list{{"k", decoded}})) << pct;
            }
        }
        std::string in_name = plain; // an escape in the name, none in the value
        in_name.insert(1, "%2B");
        EXPECT_EQ(split(in_name), (pair_list{{"k+", plain.substr(2)}})) << in_name;
    }
}

} // namespace
