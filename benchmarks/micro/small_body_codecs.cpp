// Per-body CPU and output size of zstd, brotli and zlib modes on a small JSON body (the
// figures behind enable_compression's tiny-body tier, benchmarks/journal/2026-11-22b.md,
// "Framework: compression"), straight on the libraries ringbolt links. Each mode's time is
// the minimum over 40 batches of 500 calls, the modes interleaved batch by batch, so a
// machine that slows down for a while affects all of them alike. Also ringbolt's own
// tiny-body gzip, brotli and zstd encoders (http/tiny_*.cpp) and, built with -DWITH_LIBDEFLATE
// -ldeflate (libdeflate-dev; not a ringbolt dependency: measured only), libdeflate's
// gzip. Not built by meson:
//   g++ -O2 -std=c++20 -I. benchmarks/micro/small_body_codecs.cpp http/tiny_gzip.cpp http/tiny_br.cpp
//   http/tiny_zstd.cpp -lbrotlienc -lz -lzstd -o /tmp/sbc taskset -c 1 /tmp/sbc 2055        (body size in bytes; 85,
//   2055, 4000 in the table)
#define ZSTD_STATIC_LINKING_ONLY // ZSTD_c_literalCompressionMode: measured only, not used by ringbolt
#include "http/tiny_encoders.hpp"

#include <brotli/encode.h>
#ifdef WITH_LIBDEFLATE
#include <libdeflate.h>
#endif
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

std::string json_body(size_t n) {
    std::string s = "[";
    for (size_t i = 0; s.size() < n; ++i) {
        s += R"({"id":)" + std::to_string(i) + R"(,"name":"user )" + std::to_string(i) + R"(","email":"user)" +
             std::to_string(i) + R"(@example.com","active":)" + (i % 3 ? "false" : "true") + R"(,"score":)" +
             std::to_string(i * 1.5) + "},";
    }
    s.back() = ']';
    return s;
}

struct mode {
    std::string name;
    std::function<size_t()> run;
    double best_us = 1e9;
    size_t out = 0;
};

} // namespace

int main(int argc, char** argv) {
    std::string in = json_body(argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2055);
    std::string out(ZSTD_compressBound(in.size()) + 1024, '\0');
    std::vector<mode> modes;
    auto zstd = [&](int level, bool raw_literals) {
        ZSTD_CCtx* c = ZSTD_createCCtx();
        return [=, &in, &out] {
            ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
            ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
            if (raw_literals) {
                ZSTD_CCtx_setParameter(c, ZSTD_c_literalCompressionMode, ZSTD_ps_disable);
            }
            return ZSTD_compress2(c, out.data(), out.size(), in.data(), in.size());
        };
    };
    auto gzip = [&](int level, int mem_level, int strategy) {
        auto* zs = new z_stream{};
        deflateInit2(zs, level, Z_DEFLATED, 15 + 16, mem_level, strategy);
        return [=, &in, &out] {
            deflateReset(zs);
            zs->next_in = reinterpret_cast<Bytef*>(in.data());
            zs->avail_in = static_cast<uInt>(in.size());
            zs->next_out = reinterpret_cast<Bytef*>(out.data());
            zs->avail_out = static_cast<uInt>(out.size());
            deflate(zs, Z_FINISH);
            return out.size() - zs->avail_out;
        };
    };
#ifdef WITH_LIBDEFLATE
    auto deflate_gzip = [&](int level) {
        libdeflate_compressor* c = libdeflate_alloc_compressor(level);
        return [=, &in, &out] { return libdeflate_gzip_compress(c, in.data(), in.size(), out.data(), out.size()); };
    };
#endif
    auto tiny_gzip = [&] { return [&] { return ringbolt::http::tiny_gzip(in, out.data()); }; };
    auto tiny_br = [&] { return [&] { return ringbolt::http::tiny_br(in, out.data()); }; };
    auto tiny_zstd = [&] { return [&] { return ringbolt::http::tiny_zstd(in, out.data()); }; };
    auto br = [&](int quality) {
        return [=, &in, &out] {
            size_t n = out.size();
            BrotliEncoderCompress(quality, 12, BROTLI_MODE_GENERIC, in.size(),
                                  reinterpret_cast<const uint8_t*>(in.data()), &n,
                                  reinterpret_cast<uint8_t*>(out.data()));
            return n;
        };
    };
    modes.push_back({"zstd 3", zstd(3, false)});
    modes.push_back({"zstd 1", zstd(1, false)});
    modes.push_back({"zstd -1", zstd(-1, false)});
    modes.push_back({"zstd 3, raw literals", zstd(3, true)});
    modes.push_back({"zstd ringbolt tiny_zstd", tiny_zstd()});
    modes.push_back({"gzip 1 memLevel 8", gzip(1, 8, Z_DEFAULT_STRATEGY)});
    modes.push_back({"gzip 1 memLevel 4", gzip(1, 4, Z_DEFAULT_STRATEGY)});
    modes.push_back({"gzip 1 memLevel 4 Z_FIXED", gzip(1, 4, Z_FIXED)});
    modes.push_back({"gzip ringbolt tiny_gzip", tiny_gzip()});
#ifdef WITH_LIBDEFLATE
    modes.push_back({"gzip libdeflate 1", deflate_gzip(1)});
    modes.push_back({"gzip libdeflate 2", deflate_gzip(2)});
    modes.push_back({"gzip libdeflate 6", deflate_gzip(6)});
#endif
    modes.push_back({"br ringbolt tiny_br", tiny_br()});
    modes.push_back({"br 0", br(0)});
    modes.push_back({"br 1", br(1)});
    modes.push_back({"br 2", br(2)});
    for (int round = 0; round < 40; ++round) {
        for (auto& m : modes) {
            constexpr int calls = 500;
            auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < calls; ++i) {
                m.out = m.run();
            }
            auto t1 = std::chrono::steady_clock::now();
            m.best_us = std::min(m.best_us, std::chrono::duration<double, std::micro>(t1 - t0).count() / calls);
        }
    }
    std::printf("body %zu B (zstd %s, zlib %s)\n", in.size(), ZSTD_versionString(), zlibVersion());
    for (auto& m : modes) {
        std::printf("%-28s %6zu B  %6.2f us\n", m.name.c_str(), m.out, m.best_us);
    }
}
