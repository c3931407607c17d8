// Micro-benchmarks for dispatch/router: lookups in a 100-route table (static, one-param,
// two-param, 404, 405, percent-encoded path), and the float/uuid/path converters.
#include "dispatch/router.hpp"
#include "http/parser.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace ringbolt::http;

// 100 routes in the shapes a typical API has: top-level static pages, resources with an
// id, nested resources with two ids, and a few string-param routes.
const route_table& hundred_routes() {
    static const route_table t = [] {
        route_table r;
        uint32_t id = 0;
        auto add = [&](const std::string& p, uint16_t m) {
            if (!r.add(p, m, id++).empty()) {
                std::abort();
            }
        };
        add("/", method_get);
        add("/plaintext", method_get);
        add("/json", method_get);
        for (int i = 0; i < 22; ++i) {
            add("/page" + std::to_string(i), method_get);
        }
        for (int i = 0; i < 25; ++i) {
            const std::string res = "/api/v1/res" + std::to_string(i);
            add(res, method_get | method_post);
            add(res + "/{id:int}", method_get | method_put | method_delete);
            add(res + "/{id:int}/items/{item:int}", method_get);
        }
        add("/users/{name}", method_get);
        while (id < 100) {
            add("/static/dir" + std::to_string(id) + "/{file}", method_get);
        }
        return r;
    }();
    return t;
}

void run_lookup(benchmark::State& state, uint16_t method, const char* path, route_status expect) {
    const route_table& t = hundred_routes();
    const std::string p = path;
    route_match m;
    uint16_t allowed = 0;
    if (t.lookup(method, p, m, allowed) != expect) {
        state.SkipWithError("unexpected lookup result");
        return;
    }
    for (auto _ : state) {
        route_status s = t.lookup(method, p, m, allowed);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(m);
    }
}

void bm_static_root(benchmark::State& s) {
    run_lookup(s, method_get, "/", route_status::found);
}
void bm_static_plaintext(benchmark::State& s) {
    run_lookup(s, method_get, "/plaintext", route_status::found);
}
void bm_one_param(benchmark::State& s) {
    run_lookup(s, method_get, "/api/v1/res17/12345", route_status::found);
}
void bm_two_params(benchmark::State& s) {
    run_lookup(s, method_get, "/api/v1/res17/12345/items/678", route_status::found);
}
void bm_str_param(benchmark::State& s) {
    run_lookup(s, method_get, "/users/alice", route_status::found);
}
void bm_not_found(benchmark::State& s) {
    run_lookup(s, method_get, "/api/v1/nope/1", route_status::not_found);
}
void bm_method_not_allowed(benchmark::State& s) {
    run_lookup(s, method_post, "/api/v1/res3/9", route_status::method_not_allowed);
}
void bm_percent_encoded(benchmark::State& s) {
    run_lookup(s, method_get, "/users/caf%C3%A9%20au%20lait", route_status::found);
}

// The converters, in a table that also has int and str routes at the same positions.
const route_table& converter_routes() {
    static const route_table t = [] {
        route_table r;
        const char* patterns[] = {"/n/{v:int}",         "/n/{v:float}", "/u/{id:uuid}",  "/u/{name}",
                                  "/files/{rest:path}", "/files/index", "/api/{id:int}", "/api/{id:int}/x"};
        uint32_t id = 0;
        for (const char* p : patterns) {
            if (!r.add(p, method_get, id++).empty()) {
                std::abort();
            }
        }
        return r;
    }();
    return t;
}

void run_converter(benchmark::State& state, const char* path) {
    const route_table& t = converter_routes();
    const std::string p = path;
    route_match m;
    uint16_t allowed = 0;
    if (t.lookup(method_get, p, m, allowed) != route_status::found) {
        state.SkipWithError("unexpected lookup result");
        return;
    }
    for (auto _ : state) {
        route_status s = t.lookup(method_get, p, m, allowed);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(m);
    }
}

void bm_float_param(benchmark::State& s) {
    run_converter(s, "/n/1234.5678");
}
void bm_uuid_param(benchmark::State& s) {
    run_converter(s, "/u/123e4567-e89b-12d3-a456-426614174000");
}
void bm_path_param(benchmark::State& s) {
    run_converter(s, "/files/static/css/site/main.css");
}

BENCHMARK(bm_float_param);
BENCHMARK(bm_uuid_param);
BENCHMARK(bm_path_param);
BENCHMARK(bm_static_root);
BENCHMARK(bm_static_plaintext);
BENCHMARK(bm_one_param);
BENCHMARK(bm_two_params);
BENCHMARK(bm_str_param);
BENCHMARK(bm_not_found);
BENCHMARK(bm_method_not_allowed);
BENCHMARK(bm_percent_encoded);

} // namespace

BENCHMARK_MAIN();
