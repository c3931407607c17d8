// The checks every tiny-body encoder's gtest runs (tiny_gzip_test, tiny_br_test,
// tiny_zstd_test); each test file adds the cases particular to its format.
#pragma once

#include "http/body_encoder.hpp"
#include "tests/support/tiny_codec_check.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringbolt::test_support {

/// Encoded, inside the bound, nothing written past it.
inline std::string encode_checked(const tiny_codec& c, std::string_view in) {
    bool guard_ok = false;
    std::string out = encode_guarded(c, in, guard_ok);
    EXPECT_GT(out.size(), 0u);
    EXPECT_LE(out.size(), c.bound(in.size()));
    EXPECT_TRUE(guard_ok) << "wrote past the bound";
    return out;
}

inline void expect_round_trip(const tiny_codec& c, const std::string& in) {
    EXPECT_TRUE(c.decode(encode_checked(c, in), in.size()) == in) << in.size(); // (no dump of kilobytes)
}

/// Empty and single bytes; JSON of every size to 600 bytes and at `sizes` (the limit
/// among them), 2 KB of it under a third of its size; one byte over the limit refused;
/// every byte value, random data, one run to the limit, a block repeated from afar;
/// 3000 random mixes of literals and copies.
inline void check_common_cases(const tiny_codec& c, const std::vector<size_t>& sizes) {
    expect_round_trip(c, "");
    for (int b = 0; b < 256; ++b) {
        expect_round_trip(c, std::string(1, static_cast<char>(b)));
    }
    for (size_t n = 0; n <= 600; ++n) {
        expect_round_trip(c, sample_json(n));
    }
    for (size_t n : sizes) {
        expect_round_trip(c, sample_json(n));
    }
    expect_round_trip(c, sample_json(c.max_input - 1));
    expect_round_trip(c, sample_json(c.max_input));
    std::string in = sample_json(2055);
    EXPECT_LT(encode_checked(c, in).size(), in.size() / 3);
    std::string big = sample_json(c.max_input + 1);
    std::string out(c.bound(big.size()), '\0');
    EXPECT_EQ(c.encode(big, out.data()), 0u);

    std::string all;
    for (int r = 0; r < 4; ++r) {
        for (int b = 0; b < 256; ++b) {
            all.push_back(static_cast<char>(b));
        }
    }
    expect_round_trip(c, all); // 256-byte distance repeats
    for (size_t n : {3, 4, 5, 17, 1000, 4096, 32768}) {
        if (n <= c.max_input) {
            expect_round_trip(c, random_bytes(n, static_cast<unsigned>(n)));
        }
    }
    expect_round_trip(c, std::string(c.max_input, 'a')); // copies at distance 1
    std::string block = random_bytes(300, 11);
    expect_round_trip(c, block + random_bytes(c.max_input - 2 * block.size(), 12) + block);

    std::mt19937 rng(3);
    for (int t = 0; t < 3000; ++t) {
        std::string mix = random_mix(rng, t, c.max_input);
        ASSERT_TRUE(c.decode(encode_checked(c, mix), mix.size()) == mix) << "case " << t << ", " << mix.size();
    }
}

/// compress_whole at the automatic tiny level: ringbolt's encoder where it saves at least
/// a quarter (http::tiny_output_worthwhile), else the library at `library_level`; over
/// the limit, the library. Every output decodes back.
inline void check_automatic_fallback(const tiny_codec& c, http::content_coding coding, int tiny_level,
                                     int library_level, const std::vector<std::string>& inputs) {
    using http::tiny_output_worthwhile;
    for (const std::string& in : inputs) {
        std::string out;
        ASSERT_TRUE(http::compress_whole(coding, tiny_level, in, out));
        EXPECT_TRUE(c.decode(out, in.size()) == in);
        std::string own(c.bound(in.size()), '\0');
        own.resize(c.encode(in, own.data()));
        std::string library;
        ASSERT_TRUE(http::compress_whole(coding, library_level, in, library));
        EXPECT_EQ(out, tiny_output_worthwhile(in.size(), own.size()) ? own : library) << in.size();
    }
    EXPECT_TRUE(tiny_output_worthwhile(2000, 1500));
    EXPECT_FALSE(tiny_output_worthwhile(2000, 1501));
    std::string big = sample_json(c.max_input + 100);
    std::string out;
    ASSERT_TRUE(http::compress_whole(coding, tiny_level, big, out));
    EXPECT_TRUE(c.decode(out, big.size()) == big);
}

} // namespace ringbolt::test_support
