// http/tiny_zstd: every output is one zstd frame that libzstd decodes back to the input
// (bodies of every size to tiny_zstd_max_input, every byte value, literal runs and
// matches of every literal/match length code, far offsets, incompressible data, which
// goes out as a raw block), inside tiny_zstd_bound; and compress_whole's automatic tiny
// zstd mode falls back to libzstd where it saves too little.
#include "http/tiny_zstd.hpp"

#include "http/body_encoder.hpp"

#include <gtest/gtest.h>
#include <zstd.h>

#include <random>
#include <string>

using namespace ringbolt::http;

namespace {

std::string unzstd(std::string_view z, size_t expect) {
    std::string out(expect + 64, '\0');
    size_t n = ZSTD_decompress(out.data(), out.size(), z.data(), z.size());
    if (ZSTD_isError(n)) {
        return std::string("<error: ") + ZSTD_getErrorName(n) + ">";
    }
    out.resize(n);
    return out;
}

std::string encode(std::string_view in) {
    std::string buf(tiny_zstd_bound(in.size()) + 16, '\xa5');
    size_t n = tiny_zstd(in, buf.data());
    EXPECT_GT(n, 0u);
    EXPECT_LE(n, tiny_zstd_bound(in.size()));
    EXPECT_EQ(buf.substr(tiny_zstd_bound(in.size())), std::string(16, '\xa5')) << "wrote past the bound";
    buf.resize(n);
    // The frame says how large the body is (single segment, content size given).
    EXPECT_EQ(ZSTD_getFrameContentSize(buf.data(), buf.size()), in.size());
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
    std::string z = encode(in);
    EXPECT_TRUE(unzstd(z, in.size()) == in) << in.size() << ": " << unzstd(z, in.size()).substr(0, 60);
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

TEST(TinyZstd, EmptyAndSingleBytes) {
    expect_round_trip("");
    for (int b = 0; b < 256; ++b) {
        expect_round_trip(std::string(1, static_cast<char>(b)));
    }
}

TEST(TinyZstd, JsonOfEverySizeToTheLimit) {
    for (size_t n = 0; n <= 600; ++n) {
        expect_round_trip(sample_json(n));
    }
    for (size_t n : {size_t{255}, size_t{256}, size_t{257}, size_t{1023}, size_t{2055}, size_t{4095}, size_t{4096},
                     size_t{16384}, tiny_zstd_max_input - 1, tiny_zstd_max_input}) {
        expect_round_trip(sample_json(n));
    }
    std::string in = sample_json(2055);
    EXPECT_LT(encode(in).size(), in.size() / 3);
    std::string big = sample_json(tiny_zstd_max_input + 1);
    std::string out(tiny_zstd_bound(big.size()), '\0');
    EXPECT_EQ(tiny_zstd(big, out.data()), 0u);
}

TEST(TinyZstd, EveryLiteralAndMatchLength) {
    std::string block = random_bytes(3000, 1);
    for (size_t lits : {0, 1, 15, 16, 17, 31, 32, 63, 64, 65, 127, 128, 4095, 4096, 9000}) {
        for (size_t match : {4, 5, 34, 35, 36, 130, 131, 132, 1000, 2500}) {
            std::string in =
                block.substr(0, match) + random_bytes(lits, static_cast<unsigned>(lits + 3)) + block.substr(0, match);
            expect_round_trip(in);
            expect_round_trip(in + "tail");
        }
    }
}

TEST(TinyZstd, EveryByteValueRandomDataAndFarMatches) {
    std::string all;
    for (int r = 0; r < 4; ++r) {
        for (int b = 0; b < 256; ++b) {
            all.push_back(static_cast<char>(b));
        }
    }
    expect_round_trip(all);
    for (size_t n : {3, 4, 5, 17, 1000, 4096, 32768}) {
        expect_round_trip(random_bytes(n, static_cast<unsigned>(n))); // raw blocks
    }
    expect_round_trip(std::string(tiny_zstd_max_input, 'a')); // one long match at offset 1
    std::string block = random_bytes(300, 11);
    expect_round_trip(block + random_bytes(tiny_zstd_max_input - 2 * block.size(), 12) + block);
}

TEST(TinyZstd, RandomMixesOfLiteralsAndMatches) {
    std::mt19937 rng(3);
    for (int t = 0; t < 3000; ++t) {
        size_t n = t < 2000 ? rng() % 400 : rng() % (tiny_zstd_max_input + 1);
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
        std::string z = encode(in);
        ASSERT_TRUE(unzstd(z, in.size()) == in) << "case " << t << ", " << n << " bytes";
    }
}

TEST(TinyZstd, AutomaticModeFallsBackToLibzstdWhenItSavesTooLittle) {
    for (const std::string& in : {sample_json(2055), random_bytes(2000, 4)}) {
        std::string out;
        ASSERT_TRUE(compress_whole(content_coding::zstd, tiny_zstd_level, in, out));
        EXPECT_TRUE(unzstd(out, in.size()) == in);
        std::string own(tiny_zstd_bound(in.size()), '\0');
        own.resize(tiny_zstd(in, own.data()));
        std::string minus1;
        ASSERT_TRUE(compress_whole(content_coding::zstd, -1, in, minus1));
        if (tiny_zstd_worthwhile(in.size(), own.size())) {
            EXPECT_EQ(out, own);
        } else {
            EXPECT_EQ(out, minus1); // libzstd level -1 took over
        }
    }
    EXPECT_TRUE(tiny_zstd_worthwhile(2000, 1500));
    EXPECT_FALSE(tiny_zstd_worthwhile(2000, 1501));
    std::string big = sample_json(tiny_zstd_max_input + 100);
    std::string out;
    ASSERT_TRUE(compress_whole(content_coding::zstd, tiny_zstd_level, big, out));
    EXPECT_TRUE(unzstd(out, big.size()) == big);
}
