// Micro-benchmarks for dispatch/router: lookups in a 100-route table (static, one-param,
// two-param, 404, 405, percent-encoded path), and the float/uuid/path converters.
#include "dispatch/router.hpp"
#include "http/parser.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace ringbolt::dispatch;
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

/// One benchmark: a lookup of `path` by `method` in `table`, which must give `expect`.
struct lookup_case {
    const char* name;
    const route_table& (*table)();
    uint16_t method;
    const char* path;
    route_status expect;
};

const lookup_case cases[] = {
    {"bm_float_param", converter_routes, method_get, "/n/1234.5678", route_status::found},
    {"bm_uuid_param", converter_routes, method_get, "/u/123e4567-e89b-12d3-a456-426614174000", route_status::found},
    {"bm_path_param", converter_routes, method_get, "/files/static/css/site/main.css", route_status::found},
    {"bm_static_root", hundred_routes, method_get, "/", route_status::found},
    {"bm_static_plaintext", hundred_routes, method_get, "/plaintext", route_status::found},
    {"bm_one_param", hundred_routes, method_get, "/api/v1/res17/12345", route_status::found},
    {"bm_two_params", hundred_routes, method_get, "/api/v1/res17/12345/items/678", route_status::found},
    {"bm_str_param", hundred_routes, method_get, "/users/alice", route_status::found},
    {"bm_not_found", hundred_routes, method_get, "/api/v1/nope/1", route_status::not_found},
    {"bm_method_not_allowed", hundred_routes, method_post, "/api/v1/res3/9", route_status::method_not_allowed},
    {"bm_percent_encoded", hundred_routes, method_get, "/users/caf%C3%A9%20au%20lait", route_status::found},
};

void run_lookup(benchmark::State& state, const lookup_case* c) {
    const route_table& t = c->table();
    const std::string p = c->path;
    route_match m;
    uint16_t allowed = 0;
    if (t.lookup(c->method, p, m, allowed) != c->expect) {
        state.SkipWithError("unexpected lookup result");
        return;
    }
    for (auto _ : state) {
        route_status s = t.lookup(c->method, p, m, allowed);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(m);
    }
}

} // namespace

int main(int argc, char** argv) {
    for (const lookup_case& c : cases) {
        benchmark::RegisterBenchmark(c.name, run_lookup, &c);
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
