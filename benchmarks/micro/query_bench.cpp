// Micro-benchmarks for http/query: splitting a typical 4-parameter query, one with
// nothing to decode, and percent_decode of a 40-byte string.
#include "http/query.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

namespace {

using namespace ringbolt::http;

void run_split(benchmark::State& state, std::string_view q) {
    const std::string query(q);
    for (auto _ : state) {
        size_t total = 0;
        for_each_query_param(query, [&](std::string_view n, std::string_view v) {
            benchmark::DoNotOptimize(n.data());
            benchmark::DoNotOptimize(v.data());
            total += n.size() + v.size();
        });
        benchmark::DoNotOptimize(total);
    }
}

void bm_query_4_params(benchmark::State& s) {
    run_split(s, "a=1&b=two&c=three%20x&d=4");
}
void bm_query_no_decoding(benchmark::State& s) {
    run_split(s, "page=3&per_page=50&sort=name&order=asc");
}

void bm_percent_decode_40(benchmark::State& state) {
    const std::string in = "/caf%C3%A9/menu%20du%20jour/item%2Fx+ok!"; // 40 bytes
    std::string out;
    out.reserve(64);
    for (auto _ : state) {
        out.clear();
        bool ok = percent_decode(in, out, false);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::to_string(in.size()) + " bytes");
}

BENCHMARK(bm_query_4_params);
BENCHMARK(bm_query_no_decoding);
BENCHMARK(bm_percent_decode_40);

} // namespace

BENCHMARK_MAIN();
