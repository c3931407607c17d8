// UTF-8 validation against a table modelled on Autobahn section 6 (valid text, boundary
// code points, overlongs, surrogates, beyond U+10FFFF, truncations), fed whole, split at
// every byte and one byte at a time; the incremental validator must fail on the first
// byte that cannot be valid, and agree with the one-shot check everywhere.
#include "ws/utf8.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

// The exhaustive sweeps check the DFA's logic on fixed buffers: the plain build (make
// test-unit) runs every value; under ASan (make asan, -O0) every 61st (a prime: every
// byte position still varies), which took 45 of the ASan unit tests' 219 s whole.
#include "tests/support/sanitizer.hpp"

namespace ringbolt::ws {
namespace {

#if defined(RINGBOLT_TEST_ASAN)
constexpr uint32_t sweep_step = 61;
#else
constexpr uint32_t sweep_step = 1;
#endif

enum class kind { valid, unfinished, invalid };

struct utf8_case {
    const char* name;
    std::vector<uint8_t> bytes;
    kind expected;
    size_t fails_at = 0; ///< for `invalid`: the index of the first byte that must be refused
};

std::string str(const std::vector<uint8_t>& b) {
    return std::string(b.begin(), b.end());
}

std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

const std::vector<uint8_t> kosme = {0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5};
const std::vector<uint8_t> edited = {'e', 'd', 'i', 't', 'e', 'd'};

std::vector<utf8_case> cases() {
    using k = kind;
    return {
        {"empty", {}, k::valid},
        {"ascii", {'H', 'e', 'l', 'l', 'o'}, k::valid},
        {"kosme", kosme, k::valid},
        {"Hello-mu@ss-UTF-8!!",
         {0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x2D, 0xC2, 0xB5, 0x40, 0xC3, 0x9F, 0xC3, 0xB6, 0xC3, 0xA4,
          0xC3, 0xBC, 0xC3, 0xA0, 0xC3, 0xA1, 0x2D, 0x55, 0x54, 0x46, 0x2D, 0x38, 0x21, 0x21},
         k::valid},
        // First and last code points of each length (Autobahn 6.6-6.7).
        {"U+0000", {0x00}, k::valid},
        {"U+0080", {0xC2, 0x80}, k::valid},
        {"U+0800", {0xE0, 0xA0, 0x80}, k::valid},
        {"U+10000", {0xF0, 0x90, 0x80, 0x80}, k::valid},
        {"U+007F", {0x7F}, k::valid},
        {"U+07FF", {0xDF, 0xBF}, k::valid},
        {"U+FFFF", {0xEF, 0xBF, 0xBF}, k::valid},
        {"U+10FFFF", {0xF4, 0x8F, 0xBF, 0xBF}, k::valid},
        // Other boundaries (Autobahn 6.8): around the surrogates, U+FFFD, noncharacters are valid.
        {"U+D7FF", {0xED, 0x9F, 0xBF}, k::valid},
        {"U+E000", {0xEE, 0x80, 0x80}, k::valid},
        {"U+FFFD", {0xEF, 0xBF, 0xBD}, k::valid},
        {"U+FFFE", {0xEF, 0xBF, 0xBE}, k::valid},
        {"U+1FFFF", {0xF0, 0x9F, 0xBF, 0xBF}, k::valid},
        {"U+10FFFE", {0xF4, 0x8F, 0xBF, 0xBE}, k::valid},
        {"U+FDD0", {0xEF, 0xB7, 0x90}, k::valid},
        // Beyond U+10FFFF and the old 5/6-byte forms (6.7, 6.8).
        {"U+110000", {0xF4, 0x90, 0x80, 0x80}, k::invalid, 1},
        {"F7 BF BF BF", {0xF7, 0xBF, 0xBF, 0xBF}, k::invalid, 0},
        {"5-byte form", {0xF8, 0x88, 0x80, 0x80, 0x80}, k::invalid, 0},
        {"6-byte form", {0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}, k::invalid, 0},
        {"FE", {0xFE}, k::invalid, 0},
        {"FF", {0xFF}, k::invalid, 0},
        {"FE FE FF FF", {0xFE, 0xFE, 0xFF, 0xFF}, k::invalid, 0},
        // Unexpected continuation bytes (6.9-6.10).
        {"80", {0x80}, k::invalid, 0},
        {"BF", {0xBF}, k::invalid, 0},
        {"80 BF 80 BF", {0x80, 0xBF, 0x80, 0xBF}, k::invalid, 0},
        {"a continuation too many", {0xC2, 0x80, 0x80}, k::invalid, 2},
        // Lonely start bytes followed by a space (6.11-6.12).
        {"C0 20", {0xC0, 0x20}, k::invalid, 0},
        {"C2 20", {0xC2, 0x20}, k::invalid, 1},
        {"DF 20", {0xDF, 0x20}, k::invalid, 1},
        {"E0 20", {0xE0, 0x20}, k::invalid, 1},
        {"E1 20", {0xE1, 0x20}, k::invalid, 1},
        {"EF 80 20", {0xEF, 0x80, 0x20}, k::invalid, 2},
        {"F0 20", {0xF0, 0x20}, k::invalid, 1},
        {"F1 80 80 20", {0xF1, 0x80, 0x80, 0x20}, k::invalid, 3},
        // Sequences with their last byte missing (6.13-6.14): unfinished, so not yet invalid.
        {"C2", {0xC2}, k::unfinished},
        {"E0 A0", {0xE0, 0xA0}, k::unfinished},
        {"E1 80", {0xE1, 0x80}, k::unfinished},
        {"F0 90 80", {0xF0, 0x90, 0x80}, k::unfinished},
        {"F4 8F BF", {0xF4, 0x8F, 0xBF}, k::unfinished},
        {"kosme then C2", cat(kosme, {0xC2}), k::unfinished},
        {"truncated then ascii", {0xE1, 0x80, 'a'}, k::invalid, 2},
        // Overlong forms (6.15-6.17).
        {"overlong / in 2", {0xC0, 0xAF}, k::invalid, 0},
        {"overlong / in 3", {0xE0, 0x80, 0xAF}, k::invalid, 1},
        {"overlong / in 4", {0xF0, 0x80, 0x80, 0xAF}, k::invalid, 1},
        {"max overlong 2", {0xC1, 0xBF}, k::invalid, 0},
        {"max overlong 3", {0xE0, 0x9F, 0xBF}, k::invalid, 1},
        {"max overlong 4", {0xF0, 0x8F, 0xBF, 0xBF}, k::invalid, 1},
        {"overlong NUL 2", {0xC0, 0x80}, k::invalid, 0},
        {"overlong NUL 3", {0xE0, 0x80, 0x80}, k::invalid, 1},
        {"overlong NUL 4", {0xF0, 0x80, 0x80, 0x80}, k::invalid, 1},
        {"C0 alone", {0xC0}, k::invalid, 0},
        // Surrogates (6.18-6.19).
        {"U+D800", {0xED, 0xA0, 0x80}, k::invalid, 1},
        {"U+DB7F", {0xED, 0xAD, 0xBF}, k::invalid, 1},
        {"U+DB80", {0xED, 0xAE, 0x80}, k::invalid, 1},
        {"U+DBFF", {0xED, 0xAF, 0xBF}, k::invalid, 1},
        {"U+DC00", {0xED, 0xB0, 0x80}, k::invalid, 1},
        {"U+DFFF", {0xED, 0xBF, 0xBF}, k::invalid, 1},
        {"paired surrogates", {0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80}, k::invalid, 1},
        {"ED A0 alone", {0xED, 0xA0}, k::invalid, 1},
        // Autobahn 6.3-6.4: valid text, then an invalid sequence, then more text.
        {"kosme + surrogate + edited", cat(cat(kosme, {0xED, 0xA0, 0x80}), edited), k::invalid, 12},
        {"kosme + U+110000 + edited", cat(cat(kosme, {0xF4, 0x90, 0x80, 0x80}), edited), k::invalid, 12},
        {"long ascii then bad", cat(std::vector<uint8_t>(40, 'a'), {0xF4, 0x90}), k::invalid, 41},
        {"long ascii then unfinished", cat(std::vector<uint8_t>(40, 'a'), {0xF4, 0x8F}), k::unfinished},
    };
}

TEST(Utf8, OneShot) {
    for (const auto& c : cases()) {
        EXPECT_EQ(valid_utf8(str(c.bytes)), c.expected == kind::valid) << c.name;
    }
}

TEST(Utf8, WholeFeed) {
    for (const auto& c : cases()) {
        utf8_validator v;
        EXPECT_EQ(v.feed(str(c.bytes)), c.expected != kind::invalid) << c.name;
        EXPECT_EQ(v.complete(), c.expected == kind::valid) << c.name;
    }
}

TEST(Utf8, FailsOnTheFirstImpossibleByte) {
    for (const auto& c : cases()) {
        utf8_validator v;
        for (size_t i = 0; i < c.bytes.size(); ++i) {
            const bool ok = v.feed(std::string(1, static_cast<char>(c.bytes[i])));
            const bool should_fail = c.expected == kind::invalid && i >= c.fails_at;
            ASSERT_EQ(ok, !should_fail) << c.name << " byte " << i;
        }
        EXPECT_EQ(v.complete(), c.expected == kind::valid) << c.name;
    }
}

TEST(Utf8, SplitAtEveryByte) {
    for (const auto& c : cases()) {
        const std::string s = str(c.bytes);
        for (size_t cut = 0; cut <= s.size(); ++cut) {
            utf8_validator v;
            const bool first = v.feed(std::string_view(s).substr(0, cut));
            EXPECT_EQ(first, !(c.expected == kind::invalid && cut > c.fails_at)) << c.name << " cut " << cut;
            const bool second = v.feed(std::string_view(s).substr(cut));
            EXPECT_EQ(second, c.expected != kind::invalid) << c.name << " cut " << cut;
            EXPECT_EQ(v.complete(), c.expected == kind::valid) << c.name << " cut " << cut;
        }
    }
}

TEST(Utf8, FailureIsStickyAndResetClearsIt) {
    utf8_validator v;
    EXPECT_FALSE(v.feed("\xC0"));
    EXPECT_FALSE(v.feed("abc"));
    EXPECT_FALSE(v.feed(""));
    EXPECT_FALSE(v.complete());
    v.reset();
    EXPECT_TRUE(v.complete());
    EXPECT_TRUE(v.feed("abc"));
    EXPECT_TRUE(v.feed("\xE2\x82"));
    EXPECT_FALSE(v.complete());
    EXPECT_TRUE(v.feed("\xAC")); // U+20AC split across feeds
    EXPECT_TRUE(v.complete());
}

/// Fail-fast, checked exhaustively: a prefix is accepted exactly when some extension of
/// it is valid text (continuations drawn from one byte of each class are enough).
TEST(Utf8, AcceptsAPrefixExactlyWhenItCanStillBeValid) {
    const uint8_t reps[] = {'A', 0x80, 0x90, 0xA0, 0xBF};
    std::vector<std::string> extensions = {""};
    for (int len = 1; len <= 3; ++len) {
        std::vector<std::string> longer;
        for (const auto& e : extensions) {
            if (e.size() == size_t(len - 1)) {
                for (uint8_t r : reps) {
                    longer.push_back(e + static_cast<char>(r));
                }
            }
        }
        extensions.insert(extensions.end(), longer.begin(), longer.end());
    }
    for (uint32_t x = 0; x < 0x10000; ++x) {
        for (size_t n = 1; n <= 2; ++n) {
            if (n == 1 && x > 0xFF) {
                break;
            }
            std::string prefix;
            prefix += static_cast<char>(n == 1 ? x : x >> 8);
            if (n == 2) {
                prefix += static_cast<char>(x & 0xFF);
            }
            utf8_validator v;
            const bool accepted = v.feed(prefix);
            bool can_be_valid = false;
            for (const auto& e : extensions) {
                if (valid_utf8(prefix + e)) {
                    can_be_valid = true;
                    break;
                }
            }
            ASSERT_EQ(accepted, can_be_valid) << std::hex << x << " n " << n;
            ASSERT_EQ(v.complete(), valid_utf8(prefix)) << std::hex << x;
        }
    }
}

/// The DFA and the one-shot decoder agree on every 3-byte string and on 4-byte strings
/// with every lead and second byte (under ASan a sample: sweep_step).
TEST(Utf8, IncrementalAgreesWithOneShotExhaustively) {
    char buf[4];
    for (uint32_t x = 0; x < (1u << 24); x += sweep_step) {
        buf[0] = static_cast<char>(x >> 16);
        buf[1] = static_cast<char>(x >> 8);
        buf[2] = static_cast<char>(x);
        utf8_validator v;
        const bool whole = v.feed(std::string_view(buf, 3)) && v.complete();
        ASSERT_EQ(whole, valid_utf8(std::string_view(buf, 3))) << std::hex << x;
    }
    const uint8_t tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF};
    for (uint32_t x = 0xC00000; x < (1u << 24); x += sweep_step) {
        for (uint8_t t : tails) {
            buf[0] = static_cast<char>(x >> 16);
            buf[1] = static_cast<char>(x >> 8);
            buf[2] = static_cast<char>(x);
            buf[3] = static_cast<char>(t);
            utf8_validator v;
            const bool whole = v.feed(std::string_view(buf, 4)) && v.complete();
            ASSERT_EQ(whole, valid_utf8(std::string_view(buf, 4))) << std::hex << x << " " << int(t);
        }
    }
}

TEST(Utf8, LongMixedTextInRandomPieces) {
    // Valid text mixing ASCII runs (the fast path) with 2-, 3- and 4-byte characters.
    const char* pieces[] = {"plain ascii words ",           "\xC3\xA9",    "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                            "more ascii that spans words ", "\xEF\xBF\xBD"};
    std::mt19937 rng(3629);
    std::string text;
    while (text.size() < 20000) {
        text += pieces[rng() % 6];
    }
    ASSERT_TRUE(valid_utf8(text));
    utf8_validator v;
    for (size_t pos = 0; pos < text.size();) {
        const size_t n = std::min<size_t>(rng() % 50, text.size() - pos);
        ASSERT_TRUE(v.feed(std::string_view(text).substr(pos, n))) << pos;
        pos += n;
    }
    EXPECT_TRUE(v.complete());
    // One bad byte anywhere is caught, by both.
    for (size_t at : {size_t(0), size_t(7), size_t(4096), text.size() - 1}) {
        std::string bad = text;
        bad[at] = static_cast<char>(0xFF);
        utf8_validator w;
        EXPECT_FALSE(w.feed(bad)) << at;
        EXPECT_FALSE(valid_utf8(bad)) << at;
    }
}

} // namespace
} // namespace ringbolt::ws
