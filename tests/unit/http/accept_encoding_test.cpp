// http/accept_encoding: q-value parsing, wildcards, identity refusals, syntax errors,
// and the choice among offered codings (server order breaks ties).
#include "http/accept_encoding.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ringbolt::http;

namespace {

constexpr content_coding all3[] = {content_coding::zstd, content_coding::br, content_coding::gzip};
constexpr content_coding gzip_first[] = {content_coding::gzip, content_coding::zstd};

struct choice_case {
    const char* header;
    content_coding expected;
};

content_coding choose(std::string_view header, std::span<const content_coding> offered = all3) {
    accept_encoding ae;
    if (!parse_accept_encoding(header, ae)) {
        return content_coding::identity;
    }
    return choose_coding(ae, offered);
}

TEST(AcceptEncoding, ChoosesByQualityThenServerOrder) {
    const choice_case cases[] = {
        {"gzip", content_coding::gzip},
        {"gzip, zstd", content_coding::zstd}, // equal q: the server's order
        {"gzip, br", content_coding::br},
        {"zstd;q=0.5, gzip", content_coding::gzip}, // higher q wins
        {"zstd;q=0.5, gzip;q=0.4", content_coding::zstd},
        {"GZIP", content_coding::gzip},   // case-insensitive
        {"x-gzip", content_coding::gzip}, // RFC 9110 §8.4.1.3
        {"*", content_coding::zstd},      // any: the server's first
        {"*;q=0.1, gzip", content_coding::gzip},
        {"*, zstd;q=0", content_coding::br}, // q=0 refuses
        {"gzip;q=0", content_coding::identity},
        {"gzip;q=0.000", content_coding::identity},
        {"gzip;q=0.001", content_coding::gzip},
        {"identity", content_coding::identity},
        {"", content_coding::identity},
        {"deflate, compress", content_coding::identity},    // nothing we offer
        {"gzip;q=0.5, identity", content_coding::identity}, // identity weighed higher
        {"gzip;q=1.0", content_coding::gzip},
        {"gzip ; q=0.8 , br ; q=0.9", content_coding::br},
        {",, gzip ,", content_coding::gzip},      // empty list elements
        {"gzip;q=0, gzip", content_coding::gzip}, // named twice: highest q
        {"br;Q=1", content_coding::br},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(choose(c.header), c.expected) << c.header;
    }
}

TEST(AcceptEncoding, OfferedOrderMatters) {
    EXPECT_EQ(choose("zstd, gzip", gzip_first), content_coding::gzip);
    EXPECT_EQ(choose("br", gzip_first), content_coding::identity); // not offered
    EXPECT_EQ(choose("*", {}), content_coding::identity);
}

TEST(AcceptEncoding, SyntaxErrorsAreRefused) {
    const char* bad[] = {
        "gzip;q=2",  "gzip;q=1.5", "gzip;q=0.1234", "gzip;q=",     "gzip;q",   "gzip;level=1", "gzip;q=0.5x", "gzip br",
        "gzip;q=-1", "\"gzip\"",   "gzip;;",        "gzip;q=1.01", "gz\x01ip", "gzip;q=.5",    "gzip,@",
    };
    for (const char* h : bad) {
        accept_encoding ae;
        EXPECT_FALSE(parse_accept_encoding(h, ae)) << h;
    }
}

TEST(AcceptEncoding, QualitiesAndDefaults) {
    accept_encoding ae;
    ASSERT_TRUE(parse_accept_encoding("gzip;q=0.25", ae));
    EXPECT_EQ(ae.quality(content_coding::gzip), 250);
    EXPECT_EQ(ae.quality(content_coding::zstd), 0);        // not named: not acceptable
    EXPECT_EQ(ae.quality(content_coding::identity), 1000); // always, unless refused
    accept_encoding refuse;
    ASSERT_TRUE(parse_accept_encoding("*;q=0", refuse));
    EXPECT_EQ(refuse.quality(content_coding::identity), 0);
    accept_encoding two; // several fields combine
    ASSERT_TRUE(parse_accept_encoding("gzip;q=0.3", two));
    ASSERT_TRUE(parse_accept_encoding("zstd;q=0.9", two));
    EXPECT_EQ(choose_coding(two, all3), content_coding::zstd);
}

TEST(AcceptEncoding, Names) {
    for (content_coding c : all3) {
        content_coding back;
        ASSERT_TRUE(coding_from_name(coding_name(c), back));
        EXPECT_EQ(back, c);
    }
    content_coding x;
    EXPECT_FALSE(coding_from_name("deflate", x));
    EXPECT_EQ(coding_name(content_coding::identity), "");
}

} // namespace
