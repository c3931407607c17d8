// The content coding and level for a whole JSON body, by cost per byte saved: every
// coding and level enable_compression may pick automatically (gzip 1 and 6, br 0-4,
// zstd 1-3, and ringbolt's own tiny-body encoders) over real response bodies, as
// responses are compressed (compress_whole, per-thread contexts). Counters per body:
//   ns_per_in_byte    CPU per input byte
//   ratio             compressed / original
//   ns_per_saved_byte CPU per byte the coding removed (what the choice minimises)
// Bodies: every file in $RINGBOLT_BENCH_BODIES (arena_json_bodies.py writes HttpArena's
// json-comp bodies); without it, synthetic JSON bodies of 2, 8, 16 and 48 KB.
#include "http/body_encoder.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

using namespace ringbolt::http;

namespace {

std::string synthetic(size_t n) {
    std::string s = R"({"items":[)";
    for (size_t i = 0; s.size() < n; ++i) {
        s += R"({"id":)" + std::to_string(i) + R"(,"name":"Product )" + std::to_string(i * 7919 % 1000) +
             R"(","category":"cat)" + std::to_string(i % 7) + R"(","price":)" +
             std::to_string((i * 104729) % 100000 / 100.0) + R"(,"quantity":)" + std::to_string(i % 13) +
             R"(,"active":)" + (i % 3 ? "false" : "true") + R"(,"tags":["a","b"]},)";
    }
    s.back() = ']';
    return s + "}";
}

std::vector<std::pair<std::string, std::string>> bodies() {
    std::vector<std::pair<std::string, std::string>> out;
    if (const char* dir = std::getenv("RINGBOLT_BENCH_BODIES")) {
        std::vector<std::filesystem::path> paths;
        for (const auto& e : std::filesystem::directory_iterator(dir)) {
            paths.push_back(e.path());
        }
        std::sort(paths.begin(), paths.end());
        for (const auto& p : paths) {
            std::ifstream f(p, std::ios::binary);
            out.emplace_back(p.stem().string(), std::string(std::istreambuf_iterator<char>(f), {}));
        }
    }
    if (out.empty()) {
        for (size_t n : {2000, 8000, 16000, 48000}) {
            out.emplace_back("synthetic-" + std::to_string(n), synthetic(n));
        }
    }
    return out;
}

void run(benchmark::State& state, content_coding c, int level, const std::string* in) {
    std::string out;
    for (auto _ : state) {
        if (!compress_whole(c, level, *in, out)) {
            state.SkipWithError("compression failed");
            break;
        }
        benchmark::DoNotOptimize(out.data());
    }
    double n = static_cast<double>(state.iterations());
    double size = static_cast<double>(in->size());
    double saved = size - static_cast<double>(out.size());
    state.SetBytesProcessed(static_cast<int64_t>(n * size));
    // Per iteration, in ns, from the measured CPU time.
    state.counters["in_bytes"] = size;
    state.counters["ratio"] = static_cast<double>(out.size()) / size;
    state.counters["ns_per_in_byte"] =
        benchmark::Counter(n * size, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["ns_per_saved_byte"] =
        benchmark::Counter(n * saved, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

} // namespace

int main(int argc, char** argv) {
    static const auto all = bodies();
    struct choice {
        const char* name;
        content_coding c;
        int level;
    };
    static const choice choices[] = {
        {"gzip/tiny", content_coding::gzip, tiny_gzip_level},
        {"gzip/1", content_coding::gzip, 1},
        {"gzip/6", content_coding::gzip, 6},
        {"br/tiny", content_coding::br, tiny_br_level},
        {"br/0", content_coding::br, 0},
        {"br/1", content_coding::br, 1},
        {"br/2", content_coding::br, 2},
        {"br/3", content_coding::br, 3},
        {"br/4", content_coding::br, 4},
        {"zstd/tiny", content_coding::zstd, tiny_zstd_level},
        {"zstd/1", content_coding::zstd, 1},
        {"zstd/2", content_coding::zstd, 2},
        {"zstd/3", content_coding::zstd, 3},
    };
    for (const auto& [name, body] : all) {
        for (const auto& ch : choices) {
            benchmark::RegisterBenchmark((name + "/" + ch.name).c_str(), run, ch.c, ch.level, &body);
        }
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
