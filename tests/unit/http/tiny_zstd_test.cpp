// http/tiny_zstd: every output is one zstd frame that libzstd decodes back to the input
// (bodies of every size to tiny_max_input, every byte value, literal runs and
// matches of every literal/match length code, far offsets, incompressible data, which
// goes out as a raw block), inside tiny_zstd_bound; and compress_whole's automatic tiny
// zstd mode falls back to libzstd where it saves too little.
#include "tests/support/tiny_codec_gtest.hpp"
#include "tests/support/tiny_codecs.hpp"

#include <string>

using namespace ringbolt::http;
using namespace ringbolt::test_support;

// (unzstd also checks that the frame states the content size: single segment.)
TEST(TinyZstd, CommonCases) {
    check_common_cases(zstd_codec, {255, 256, 257, 1023, 2055, 4095, 4096, 16384});
}

TEST(TinyZstd, EveryLiteralAndMatchLength) {
    std::string block = random_bytes(3000, 1);
    for (size_t lits : {0, 1, 15, 16, 17, 31, 32, 63, 64, 65, 127, 128, 4095, 4096, 9000}) {
        for (size_t match : {4, 5, 34, 35, 36, 130, 131, 132, 1000, 2500}) {
            std::string in =
                block.substr(0, match) + random_bytes(lits, static_cast<unsigned>(lits + 3)) + block.substr(0, match);
            expect_round_trip(zstd_codec, in);
            expect_round_trip(zstd_codec, in + "tail");
        }
    }
}

TEST(TinyZstd, AutomaticModeFallsBackToLibzstdWhenItSavesTooLittle) {
    check_automatic_fallback(zstd_codec, content_coding::zstd, tiny_zstd_level, -1,
                             {sample_json(2055), random_bytes(2000, 4)});
}
