// http/tiny_br: every output is one brotli stream that libbrotlidec decodes back to the
// input (bodies of every size to tiny_max_input, every byte value, literal runs and
// copies of every insert/copy length code the encoder can use, including the split of
// long copies after long literal runs, distances to the limit), inside tiny_br_bound;
// and compress_whole's automatic tiny br mode falls back to libbrotli where it saves
// too little.
#include "tests/support/tiny_codec_gtest.hpp"
#include "tests/support/tiny_codecs.hpp"

#include <random>
#include <string>

using namespace ringbolt::http;
using namespace ringbolt::test_support;

TEST(TinyBr, CommonCases) {
    check_common_cases(br_codec, {1023, 1024, 2055, 4095, 4096, 8191, 16384});
    EXPECT_EQ(encode_checked(br_codec, ""), std::string(1, '\x06')); // WBITS 16, ISLAST, ISLASTEMPTY
}

TEST(TinyBr, EveryInsertAndCopyLength) {
    // A literal run of `ins` random bytes, then a copy of `copy` bytes of an earlier block:
    // every insert code (0..21 within the limit) against every copy code, which covers
    // the cells the encoder must avoid (long inserts with long copies get split).
    std::string block = random_bytes(3000, 1);
    for (size_t ins :
         {0, 1, 5, 6, 9, 10, 13, 17, 25, 33, 49, 65, 97, 129, 130, 131, 193, 321, 577, 1089, 2113, 2114, 6000}) {
        for (size_t copy : {4, 9, 10, 11, 12, 21, 69, 70, 71, 101, 133, 134, 197, 581, 1093, 2117, 2118, 2500}) {
            std::string in = block.substr(0, copy) + random_bytes(ins, static_cast<unsigned>(ins + 7)) +
                             block.substr(0, copy) + "tail";
            if (in.size() <= tiny_max_input) {
                ASSERT_TRUE(unbrotli(encode_checked(br_codec, in), in.size()) == in)
                    << "insert " << ins << ", copy " << copy;
            }
        }
    }
}

TEST(TinyBr, AutomaticModeFallsBackToLibbrotliWhenItSavesTooLittle) {
    std::mt19937 rng(5);
    std::string text; // UTF-8 letters in random order: few repeats, but skewed byte values
    static constexpr const char* letters[] = {"\xd0\xb0", "\xd0\xb1", "\xd0\xb2", "\xd0\xb3", "\xd0\xb4", " "};
    while (text.size() < 3000) {
        text += letters[rng() % 6];
    }
    check_automatic_fallback(br_codec, content_coding::br, tiny_br_level, 0,
                             {sample_json(2055), text, random_bytes(2000, 4)});
}
