// Response writing: the head of a small JSON response, and a native (const) response.
#include "http/response_writer.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";

void BM_write_json_response(benchmark::State& state) {
    std::string out;
    ringbolt::http::response_spec spec{200, "application/json", R"({"message":"Hello, World!"})", false, false, false};
    for (auto _ : state) {
        out.clear();
        ringbolt::http::write_response(out, spec, date);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_write_json_response);

void BM_write_head_start(benchmark::State& state) {
    std::string out;
    for (auto _ : state) {
        out.clear();
        ringbolt::http::write_head_start(out, 200, date, false, false);
        ringbolt::http::write_head_end(out, 200, 13);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_write_head_start);

} // namespace

BENCHMARK_MAIN();
