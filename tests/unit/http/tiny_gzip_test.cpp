// http/tiny_gzip: every output is one gzip member that zlib decodes back to the input
// (bodies of every size to tiny_gzip_max_input, every byte value, long runs, matches
// at the length and distance limits), inside tiny_gzip_bound; and compress_whole's
// automatic tiny gzip mode falls back to zlib where fixed codes save too little.
#include "http/tiny_gzip.hpp"

#include "http/body_encoder.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

using namespace ringbolt::http;

namespace {

// Inflates one gzip member; the input back, or "<error>" when zlib refuses it, it is
// truncated, or bytes follow the member.
std::string gunzip(std::string_view gz, size_t expect) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + 15) != Z_OK) {
        return "<error>";
    }
    std::string out(expect + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs.avail_in = static_cast<uInt>(gz.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&zs, Z_FINISH);
    size_t got = out.size() - zs.avail_out;
    bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
    inflateEnd(&zs);
    if (!whole) {
        return "<error>";
    }
    out.resize(got);
    return out;
}

// Encodes into a buffer exactly tiny_gzip_bound long, followed by a guard that must
// stay untouched.
std::string encode(std::string_view in) {
    std::string buf(tiny_gzip_bound(in.size()) + 16, '\xa5');
    size_t n = tiny_gzip(in, buf.data());
    EXPECT_GT(n, 0u);
    EXPECT_LE(n, tiny_gzip_bound(in.size()));
    EXPECT_EQ(buf.substr(tiny_gzip_bound(in.size())), std::string(16, '\xa5')) << "wrote past the bound";
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
    std::string gz = encode(in);
    ASSERT_GE(gz.size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    EXPECT_TRUE(gunzip(gz, in.size()) == in) << in.size(); // (no dump of kilobytes on failure)
}

} // namespace

TEST(TinyGzip, EmptyAndSingleBytes) {
    expect_round_trip("");
    for (int b = 0; b < 256; ++b) {
        expect_round_trip(std::string(1, static_cast<char>(b)));
    }
}

TEST(TinyGzip, JsonOfEverySizeToTheLimit) {
    for (size_t n = 0; n <= 600; ++n) {
        expect_round_trip(sample_json(n));
    }
    for (size_t n : {size_t{1023}, size_t{1024}, size_t{2055}, size_t{4095}, size_t{4096}, size_t{8191}, size_t{16384},
                     tiny_gzip_max_input - 1, tiny_gzip_max_input}) {
        expect_round_trip(sample_json(n));
    }
}

TEST(TinyGzip, JsonCompressesAndOverTheLimitIsRefused) {
    std::string in = sample_json(2055);
    EXPECT_LT(encode(in).size(), in.size() / 3);
    std::string big = sample_json(tiny_gzip_max_input + 1);
    std::string out(tiny_gzip_bound(big.size()), '\0');
    EXPECT_EQ(tiny_gzip(big, out.data()), 0u);
}

TEST(TinyGzip, EveryByteValueAndRandomData) {
    std::string all;
    for (int r = 0; r < 4; ++r) {
        for (int b = 0; b < 256; ++b) {
            all.push_back(static_cast<char>(b));
        }
    }
    expect_round_trip(all); // 256-byte distance repeats
    std::mt19937 rng(7);
    for (size_t n : {3, 4, 5, 17, 1000, 4096, 32768}) {
        std::string in(n, '\0');
        for (char& c : in) {
            c = static_cast<char>(rng()); // incompressible: 8- and 9-bit literals only
        }
        expect_round_trip(in);
    }
}

TEST(TinyGzip, LongRunsAndMatchesAtTheLimits) {
    expect_round_trip(std::string(tiny_gzip_max_input, 'a')); // runs of 258 at distance 1
    for (size_t len : {257, 258, 259, 260, 516, 517}) {
        expect_round_trip(std::string(len, 'x') + "y" + std::string(len, 'x'));
    }
    // A block repeated at the largest distance the body allows (32767).
    std::mt19937 rng(11);
    std::string block(300, '\0');
    for (char& c : block) {
        c = static_cast<char>('a' + rng() % 26);
    }
    std::string filler(tiny_gzip_max_input - 2 * block.size() + 1, '\0');
    for (char& c : filler) {
        c = static_cast<char>(rng());
    }
    std::string in = block + filler + block;
    in.resize(tiny_gzip_max_input);
    expect_round_trip(in);
}

TEST(TinyGzip, RandomMixesOfLiteralsAndCopies) {
    std::mt19937 rng(3);
    for (int t = 0; t < 3000; ++t) {
        size_t n = t < 2000 ? rng() % 400 : rng() % (tiny_gzip_max_input + 1);
        int alphabet = 1 + static_cast<int>(rng() % 256);
        std::string in(n, '\0');
        for (char& c : in) {
            c = static_cast<char>(rng() % alphabet);
        }
        for (size_t k = 1; k + 8 < n; k += 1 + rng() % 64) { // copies of earlier bytes
            size_t from = rng() % k;
            size_t len = rng() % 300;
            for (size_t j = 0; j < len && k + j < n; ++j) {
                in[k + j] = in[from + j];
            }
        }
        std::string gz = encode(in);
        ASSERT_TRUE(gunzip(gz, in.size()) == in) << "case " << t << ", " << n << " bytes";
    }
}

TEST(TinyGzip, AutomaticModeFallsBackToZlibWhenFixedCodesSaveTooLittle) {
    // UTF-8 text: its bytes over 0x8F get 9-bit fixed codes, so zlib's dynamic codes take over.
    std::string text;
    while (text.size() < 3000) {
        text += "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xe4\xb8\x96\xe7\x95\x8c ";
        text += std::to_string(text.size() * 7919 % 1000);
    }
    std::mt19937 rng(5);
    std::string noise(2000, '\0'); // incompressible: fixed codes would expand it
    for (char& c : noise) {
        c = static_cast<char>(rng());
    }
    for (const std::string& in : {sample_json(2055), text, noise}) {
        std::string out;
        ASSERT_TRUE(compress_whole(content_coding::gzip, tiny_gzip_level, in, out));
        EXPECT_TRUE(gunzip(out, in.size()) == in);
        std::string zlib1;
        ASSERT_TRUE(compress_whole(content_coding::gzip, 1, in, zlib1));
        std::string own(tiny_gzip_bound(in.size()), '\0');
        own.resize(tiny_gzip(in, own.data()));
        if (tiny_gzip_worthwhile(in.size(), own.size())) {
            EXPECT_EQ(out, own);
        } else {
            EXPECT_EQ(out, zlib1); // zlib level 1 took over
        }
    }
    EXPECT_TRUE(tiny_gzip_worthwhile(2000, 1500));
    EXPECT_FALSE(tiny_gzip_worthwhile(2000, 1501));
    std::string big = sample_json(tiny_gzip_max_input + 100); // over the limit: zlib
    std::string out;
    ASSERT_TRUE(compress_whole(content_coding::gzip, tiny_gzip_level, big, out));
    EXPECT_TRUE(gunzip(out, big.size()) == big);
}
