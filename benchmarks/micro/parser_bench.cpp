// Micro-benchmarks for http/parser.cpp and http/chunked.cpp: a wrk-style request, a
// browser-style request with a dozen headers, an API client's with a bearer token, and a 4 KB
// chunked body in 256-byte chunks.
#include "http/chunked.hpp"
#include "http/parser.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

using namespace ringbolt::http;

namespace {

const std::string wrk_request = "GET / HTTP/1.1\r\nHost: localhost:8000\r\n\r\n";

const std::string browser_request =
    "GET /static/app.js?v=1234 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/index.html\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=8f2a1c3d4e5f60718293a4b5c6d7e8f9; theme=dark; lang=en\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";

/// An API client's request: a bearer token (the credential fields are counted).
const std::string api_request = "GET /items/42 HTTP/1.1\r\n"
                                "Host: api.example.com\r\n"
                                "User-Agent: python-httpx/0.27.0\r\n"
                                "Accept: application/json\r\n"
                                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2ln\r\n"
                                "\r\n";

std::string make_chunked_body(size_t total, size_t chunk) {
    std::string out;
    char line[32];
    for (size_t done = 0; done < total; done += chunk) {
        std::snprintf(line, sizeof line, "%zx\r\n", chunk);
        out += line;
        out.append(chunk, 'x');
        out += "\r\n";
    }
    out += "0\r\n\r\n";
    return out;
}

void parse_bench(benchmark::State& state, const std::string& request) {
    request_head head;
    const parser_limits limits;
    for (auto _ : state) {
        const parse_outcome o = parse_request_head(request, head, limits);
        benchmark::DoNotOptimize(o);
        benchmark::DoNotOptimize(head.num_headers);
        if (o.status != parse_status::complete) {
            state.SkipWithError("parse failed");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.size()));
}

void bm_parse_wrk(benchmark::State& state) {
    parse_bench(state, wrk_request);
}
void bm_parse_browser(benchmark::State& state) {
    parse_bench(state, browser_request);
}
void bm_parse_api(benchmark::State& state) {
    parse_bench(state, api_request);
}

void bm_has_head_end(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(has_head_end(browser_request, 0));
    }
}

void bm_chunked_4k_in_256(benchmark::State& state) {
    const std::string input = make_chunked_body(4096, 256);
    std::string body;
    body.reserve(8192);
    chunked_decoder decoder;
    for (auto _ : state) {
        decoder.reset();
        body.clear();
        const chunked_outcome o = decoder.feed(input, body);
        benchmark::DoNotOptimize(o);
        benchmark::DoNotOptimize(body.data());
        if (o.status != chunked_status::complete || body.size() != 4096) {
            state.SkipWithError("decode failed");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

} // namespace

BENCHMARK(bm_parse_wrk);
BENCHMARK(bm_parse_browser);
BENCHMARK(bm_parse_api);
BENCHMARK(bm_has_head_end);
BENCHMARK(bm_chunked_4k_in_256);

BENCHMARK_MAIN();
