// http/tiny_br: every output is one brotli stream that libbrotlidec decodes back to the
// input (bodies of every size to tiny_br_max_input, every byte value, literal runs and
// copies of every insert/copy length code the encoder can use, including the split of
// long copies after long literal runs, distances to the limit), inside tiny_br_bound;
// and compress_whole's automatic tiny br mode falls back to libbrotli where it saves
// too little.
#include "http/tiny_br.hpp"

#include "http/body_encoder.hpp"

#include <brotli/decode.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

using namespace ringbolt::http;

namespace {

// The input back, or "<error>" when libbrotlidec refuses the stream or it is truncated.
std::string unbrotli(std::string_view br, size_t expect) {
    std::string out(expect + 64, '\0');
    size_t n = out.size();
    if (BrotliDecoderDecompress(br.size(), reinterpret_cast<const uint8_t*>(br.data()), &n,
                                reinterpret_cast<uint8_t*>(out.data())) != BROTLI_DECODER_RESULT_SUCCESS) {
        return "<error>";
    }
    out.resize(n);
    return out;
}

std::string encode(std::string_view in) {
    std::string buf(tiny_br_bound(in.size()) + 16, '\xa5');
    size_t n = tiny_br(in, buf.data());
    EXPECT_GT(n, 0u);
    EXPECT_LE(n, tiny_br_bound(in.size()));
    EXPECT_EQ(buf.substr(tiny_br_bound(in.size())), std::string(16, '\xa5')) << "wrote past the bound";
    buf.resize(n);
    return buf;
}

std::string sample_json(size_t n) {
    std::string s = "[";
    for (size_t i = 0; s.size() < n; ++i) {
        s += R"({"id":)" + std::to_string(i) + R"(,"name":"user )" + std::to_string(i) + R"(","email":"user)" +
             std::to_string(i) + R"(@example.com","active":)" + (i % 3 ? "false" : "true") + "},";
    }
    s.resize(n);
    return s;
}

void expect_round_trip(const std::string& in) {
    std::string br = encode(in);
    EXPECT_TRUE(unbrotli(br, in.size()) == in) << in.size(); // (no dump of kilobytes on failure)
}

std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) {
        c = static_cast<char>(rng());
    }
    return s;
}

} // namespace

TEST(TinyBr, EmptyAndSingleBytes) {
    EXPECT_EQ(encode(""), std::string(1, '\x06')); // WBITS 16, ISLAST, ISLASTEMPTY
    expect_round_trip("");
    for (int b = 0; b < 256; ++b) {
        expect_round_trip(std::string(1, static_cast<char>(b)));
    }
}

TEST(TinyBr, JsonOfEverySizeToTheLimit) {
    for (size_t n = 0; n <= 600; ++n) {
        expect_round_trip(sample_json(n));
    }
    for (size_t n : {size_t{1023}, size_t{1024}, size_t{2055}, size_t{4095}, size_t{4096}, size_t{8191}, size_t{16384},
                     tiny_br_max_input - 1, tiny_br_max_input}) {
        expect_round_trip(sample_json(n));
    }
    std::string in = sample_json(2055);
    EXPECT_LT(encode(in).size(), in.size() / 3);
    std::string big = sample_json(tiny_br_max_input + 1);
    std::string out(tiny_br_bound(big.size()), '\0');
    EXPECT_EQ(tiny_br(big, out.data()), 0u);
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
            if (in.size() <= tiny_br_max_input) {
                std::string br = encode(in);
                ASSERT_TRUE(unbrotli(br, in.size()) == in) << "insert " << ins << ", copy " << copy;
            }
        }
    }
}

TEST(TinyBr, EveryByteValueRandomDataAndFarCopies) {
    std::string all;
    for (int r = 0; r < 4; ++r) {
        for (int b = 0; b < 256; ++b) {
            all.push_back(static_cast<char>(b));
        }
    }
    expect_round_trip(all);
    for (size_t n : {3, 4, 5, 17, 1000, 4096, 32768}) {
        expect_round_trip(random_bytes(n, static_cast<unsigned>(n)));
    }
    expect_round_trip(std::string(tiny_br_max_input, 'a')); // one long copy at distance 1
    std::string block = random_bytes(300, 11);
    std::string in = block + random_bytes(tiny_br_max_input - 2 * block.size(), 12) + block;
    expect_round_trip(in); // a copy from 32,468 bytes back
}

TEST(TinyBr, RandomMixesOfLiteralsAndCopies) {
    std::mt19937 rng(3);
    for (int t = 0; t < 3000; ++t) {
        size_t n = t < 2000 ? rng() % 400 : rng() % (tiny_br_max_input + 1);
        int alphabet = 1 + static_cast<int>(rng() % 256);
        std::string in(n, '\0');
        for (char& c : in) {
            c = static_cast<char>(rng() % alphabet);
        }
        for (size_t k = 1; k + 8 < n; k += 1 + rng() % 64) {
            size_t from = rng() % k;
            size_t len = rng() % 300;
            for (size_t j = 0; j < len && k + j < n; ++j) {
                in[k + j] = in[from + j];
            }
        }
        std::string br = encode(in);
        ASSERT_TRUE(unbrotli(br, in.size()) == in) << "case " << t << ", " << n << " bytes";
    }
}

TEST(TinyBr, AutomaticModeFallsBackToLibbrotliWhenItSavesTooLittle) {
    std::mt19937 rng(5);
    std::string text; // UTF-8 letters in random order: few repeats, but skewed byte values
    static constexpr const char* letters[] = {"\xd0\xb0", "\xd0\xb1", "\xd0\xb2", "\xd0\xb3", "\xd0\xb4", " "};
    while (text.size() < 3000) {
        text += letters[rng() % 6];
    }
    for (const std::string& in : {sample_json(2055), text, random_bytes(2000, 4)}) {
        std::string out;
        ASSERT_TRUE(compress_whole(content_coding::br, tiny_br_level, in, out));
        EXPECT_TRUE(unbrotli(out, in.size()) == in);
        std::string own(tiny_br_bound(in.size()), '\0');
        own.resize(tiny_br(in, own.data()));
        std::string q0;
        ASSERT_TRUE(compress_whole(content_coding::br, 0, in, q0));
        if (tiny_br_worthwhile(in.size(), own.size())) {
            EXPECT_EQ(out, own);
        } else {
            EXPECT_EQ(out, q0); // libbrotli quality 0 took over
        }
    }
    EXPECT_TRUE(tiny_br_worthwhile(2000, 1500));
    EXPECT_FALSE(tiny_br_worthwhile(2000, 1501));
    std::string big = sample_json(tiny_br_max_input + 100); // over the limit: libbrotli
    std::string out;
    ASSERT_TRUE(compress_whole(content_coding::br, tiny_br_level, big, out));
    EXPECT_TRUE(unbrotli(out, big.size()) == big);
}
