// SHA-1 against the FIPS 180-2 / RFC 3174 test vectors, and base64 against RFC 4648 §10,
// including the decoded-length check's refusals; base64url both ways, strict (signed
// values) and not (HTTP2-Settings).
#include "core/sha1.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringbolt {
namespace {

std::string hex(const std::array<uint8_t, 20>& d) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (uint8_t b : d) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

struct sha1_case {
    std::string input;
    const char* digest;
};

TEST(Sha1, KnownVectors) {
    const sha1_case cases[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {std::string(1000000, 'a'), "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
        // RFC 3174 §7.3 TEST4: "01234567" x 8, repeated 10 times (640 bytes).
        {[] {
             std::string s;
             for (int i = 0; i < 20; ++i) {
                 s += "01234567012345670123456701234567";
             }
             return s;
         }(),
         "dea356a2cddd90c7a7ecedc5ebb563934f460452"},
        {"The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(hex(core::sha1(c.input)), c.digest) << c.input.size() << " bytes";
    }
}

TEST(Sha1, PaddingBoundaries) {
    // Lengths around the one-or-two padding block edge (55/56 bytes) and block multiples;
    // digests from Python's hashlib.
    const sha1_case cases[] = {
        {std::string(55, 'x'), "cef734ba81a024479e09eb5a75b6ddae62e6abf1"},
        {std::string(56, 'x'), "901305367c259952f4e7af8323f480d59f81335b"},
        {std::string(63, 'x'), "0ddc4e0cccd9a12850deb5abb0853a4425559fec"},
        {std::string(64, 'x'), "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163"},
        {std::string(119, 'x'), "4300320394f7ee239bcdce7d3b8bcee173a0cd5c"},
        {std::string(120, 'x'), "ceb2821639c4b6dcb10bce0e522ca2e608ce056d"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(hex(core::sha1(c.input)), c.digest) << c.input.size() << " bytes";
    }
}

struct b64_case {
    const char* plain;
    const char* encoded;
};

TEST(Base64, Rfc4648Vectors) {
    const b64_case cases[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& c : cases) {
        std::string plain = c.plain;
        EXPECT_EQ(core::base64_encode(reinterpret_cast<const uint8_t*>(plain.data()), plain.size()), c.encoded);
        EXPECT_EQ(core::base64_decoded_length(c.encoded), long(plain.size())) << c.encoded;
    }
}

TEST(Base64, AllByteValuesUseTheStandardAlphabet) {
    const uint8_t bytes[] = {0xFB, 0xFF, 0xBF, 0x00, 0x10, 0x83};
    EXPECT_EQ(core::base64_encode(bytes, sizeof bytes), "+/+/ABCD");
}

struct length_case {
    const char* text;
    long expected;
};

TEST(Base64, DecodedLengthRefusesWhatIsNotPaddedBase64) {
    const length_case cases[] = {
        {"Zg", -1},       // unpadded
        {"Zg=", -1},      // not a multiple of 4
        {"Z===", -1},     // three pads
        {"====", -1},     // only pads
        {"Zg==Zg==", -1}, // padding in the middle
        {"Zm9v!A==", -1}, // outside the alphabet
        {"Zm9v-_==", -1}, // the URL-safe alphabet is not accepted
        {"Zm 9", -1},     // whitespace
        {"Zm=v", -1},     // a pad before data
        {"AAAAAAAAAAAAAAAAAAAAAA==", 16},
        {"AAAAAAAAAAAAAAAAAAAAAAA=", 17},
        {"AAAAAAAAAAAAAAAAAAAAAAAA", 18},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(core::base64_decoded_length(c.text), c.expected) << c.text;
    }
}

TEST(Base64url, StrictRefusesWhatIsNotTheOneEncoding) {
    auto decode = [](std::string_view text, bool strict) {
        std::string out;
        return core::base64url_decode(text, out, strict) ? out : std::string("<refused>");
    };
    EXPECT_EQ(decode("QUI", true), "AB");
    EXPECT_EQ(decode("QUJ", true), "<refused>");  // unused bits set: not the encoding of "AB"
    EXPECT_EQ(decode("Q", true), "<refused>");    // 1 mod 4
    EXPECT_EQ(decode("QU+", true), "<refused>");  // base64, not base64url
    EXPECT_EQ(decode("QUI=", true), "<refused>"); // no padding
    // HTTP2-Settings' reading, as h2/ always had it: padding ends it, leftover bits dropped
    EXPECT_EQ(decode("QUI=", false), "AB");
    EXPECT_EQ(decode("QUJ", false), "AB");
    EXPECT_EQ(decode("QU+", false), "<refused>");
}

TEST(Base64url, RoundTripsEveryLengthWithAndWithoutAllocating) {
    for (size_t n = 0; n < 70; ++n) {
        std::string raw;
        for (size_t i = 0; i < n; ++i) {
            raw.push_back(static_cast<char>((i * 37 + n) & 0xFF));
        }
        std::string text = "x"; // appended to
        core::append_base64url(text, raw);
        char buf[96];
        size_t len = core::base64url_encode(reinterpret_cast<const uint8_t*>(raw.data()), raw.size(), buf);
        EXPECT_EQ(text, "x" + std::string(buf, len));
        std::string out;
        ASSERT_TRUE(core::base64url_decode(std::string_view(text).substr(1), out, true)) << text;
        EXPECT_EQ(out, raw);
    }
    std::string std_text = core::base64_encode(reinterpret_cast<const uint8_t*>("\xfb\xff"), 2);
    EXPECT_EQ(std_text, "+/8=");
    std::string url_text;
    core::append_base64url(url_text, "\xfb\xff");
    EXPECT_EQ(url_text, "-_8");
}

} // namespace
} // namespace ringbolt
