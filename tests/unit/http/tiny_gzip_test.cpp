// http/tiny_gzip: every output is one gzip member that zlib decodes back to the input
// (bodies of every size to tiny_max_input, every byte value, long runs, matches
// at the length and distance limits), inside tiny_gzip_bound; and compress_whole's
// automatic tiny gzip mode falls back to zlib where fixed codes save too little.
#include "tests/support/tiny_codec_gtest.hpp"
#include "tests/support/tiny_codecs.hpp"

#include <random>
#include <string>

using namespace ringbolt::http;
using namespace ringbolt::test_support;

TEST(TinyGzip, CommonCases) {
    check_common_cases(gzip_codec, {1023, 1024, 2055, 4095, 4096, 8191, 16384});
    EXPECT_EQ(static_cast<unsigned char>(encode_checked(gzip_codec, "x")[0]), 0x1f); // a gzip member
}

TEST(TinyGzip, LongRunsAndMatchesAtTheLimits) {
    expect_round_trip(gzip_codec, std::string(tiny_max_input, 'a')); // runs of 258 at distance 1
    for (size_t len : {257, 258, 259, 260, 516, 517}) {
        expect_round_trip(gzip_codec, std::string(len, 'x') + "y" + std::string(len, 'x'));
    }
    // A block repeated at the largest distance the body allows (32767).
    std::mt19937 rng(11);
    std::string block(300, '\0');
    for (char& c : block) {
        c = static_cast<char>('a' + rng() % 26);
    }
    std::string filler(tiny_max_input - 2 * block.size() + 1, '\0');
    for (char& c : filler) {
        c = static_cast<char>(rng());
    }
    std::string in = block + filler + block;
    in.resize(tiny_max_input);
    expect_round_trip(gzip_codec, in);
}

TEST(TinyGzip, AutomaticModeFallsBackToZlibWhenFixedCodesSaveTooLittle) {
    // UTF-8 text: its bytes over 0x8F get 9-bit fixed codes, so zlib's dynamic codes take over.
    std::string text;
    while (text.size() < 3000) {
        text += "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xe4\xb8\x96\xe7\x95\x8c ";
        text += std::to_string(text.size() * 7919 % 1000);
    }
    // Random bytes are incompressible: fixed codes would expand them.
    check_automatic_fallback(gzip_codec, content_coding::gzip, tiny_gzip_level, 1,
                             {sample_json(2055), text, random_bytes(2000, 5)});
}
