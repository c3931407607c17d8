// Response compression (http/body_encoder): throughput and ratio of zstd, br and gzip on
// a 100 KB and a 2 KB JSON body (whole bodies, per-thread contexts, as responses are
// compressed), plus a streamed body in 4 KB flushed pieces. Ratio = compressed/original,
// reported as the "ratio" counter; bytes_per_second is over the original size.
#include "http/body_encoder.hpp"

#include <benchmark/benchmark.h>

#include <string>

using namespace ringbolt::http;

namespace {

std::string json_body(size_t n) {
    std::string s = "[";
    for (size_t i = 0; s.size() < n; ++i) {
        s += R"({"id":)" + std::to_string(i) + R"(,"name":"user )" + std::to_string(i * 7919 % 1000) +
             R"(","email":"user)" + std::to_string(i) + R"(@example.com","active":)" + (i % 3 ? "false" : "true") +
             R"(,"score":)" + std::to_string((i * 104729) % 100000 / 100.0) + "},";
    }
    s.back() = ']';
    return s;
}

void whole(benchmark::State& state, content_coding c, size_t size) {
    std::string in = json_body(size);
    std::string out;
    // Arg -1: the default level; -2: level -1; -3: tiny_br_level; else the level.
    int level = state.range(0) == -1   ? default_level(c)
                : state.range(0) == -2 ? -1
                : state.range(0) == -3 ? tiny_br_level
                                       : static_cast<int>(state.range(0));
    for (auto _ : state) {
        if (!compress_whole(c, level, in, out)) {
            state.SkipWithError("compression failed");
            break;
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
    state.counters["ratio"] = static_cast<double>(out.size()) / static_cast<double>(in.size());
    state.counters["level"] = level;
}

void streamed(benchmark::State& state, content_coding c) {
    std::string in = json_body(100 * 1000);
    std::string out;
    size_t coded = 0;
    for (auto _ : state) {
        auto enc = make_body_encoder(c, default_level(c));
        coded = 0;
        for (size_t off = 0; off < in.size(); off += 4096) {
            out.clear();
            (void)enc->write(std::string_view(in).substr(off, 4096), false, out);
            coded += out.size();
        }
        out.clear();
        (void)enc->write({}, true, out);
        coded += out.size();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
    state.counters["ratio"] = static_cast<double>(coded) / static_cast<double>(in.size());
}

void BM_zstd_100k(benchmark::State& s) {
    whole(s, content_coding::zstd, 100 * 1000);
}
void BM_br_100k(benchmark::State& s) {
    whole(s, content_coding::br, 100 * 1000);
}
void BM_gzip_100k(benchmark::State& s) {
    whole(s, content_coding::gzip, 100 * 1000);
}
void BM_zstd_2k(benchmark::State& s) {
    whole(s, content_coding::zstd, 2000);
}
void BM_br_2k(benchmark::State& s) {
    whole(s, content_coding::br, 2000);
}
void BM_br_8k(benchmark::State& s) {
    whole(s, content_coding::br, 8000);
}
void BM_gzip_2k(benchmark::State& s) {
    whole(s, content_coding::gzip, 2000);
}
void BM_zstd_stream_4k_pieces(benchmark::State& s) {
    streamed(s, content_coding::zstd);
}
void BM_br_stream_4k_pieces(benchmark::State& s) {
    streamed(s, content_coding::br);
}
void BM_gzip_stream_4k_pieces(benchmark::State& s) {
    streamed(s, content_coding::gzip);
}

} // namespace

// Arg: the level (-1: the default, zstd 3, br 4, gzip 6).
BENCHMARK(BM_zstd_100k)->Arg(-1)->Arg(1)->Arg(9);
BENCHMARK(BM_br_100k)->Arg(-1)->Arg(1)->Arg(9);
BENCHMARK(BM_gzip_100k)->Arg(-1)->Arg(1)->Arg(9);
BENCHMARK(BM_zstd_2k)->Arg(-1)->Arg(1)->Arg(-2)->Arg(0);       // -2: zstd level -1; 0: tiny_zstd_level
BENCHMARK(BM_br_2k)->Arg(-1)->Arg(0)->Arg(1)->Arg(2)->Arg(-3); // -3: tiny_br_level
BENCHMARK(BM_br_8k)->Arg(0)->Arg(2);
BENCHMARK(BM_gzip_2k)->Arg(-1)->Arg(1)->Arg(0); // 0: tiny_gzip_level, the automatic mode under 4 KiB
BENCHMARK(BM_zstd_stream_4k_pieces);
BENCHMARK(BM_br_stream_4k_pieces);
BENCHMARK(BM_gzip_stream_4k_pieces);

BENCHMARK_MAIN();
