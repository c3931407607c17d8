// libFuzzer target for dispatch/router and http/query: looks the input up as a path in a
// fixed table of ~20 routes with several methods and checks the match invariants, then
// runs the query splitter and both percent decoders over the same bytes.
#include "dispatch/router.hpp"
#include "http/parser.hpp"
#include "http/query.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace ringbolt::dispatch;
using namespace ringbolt::http;

struct fuzz_route {
    const char* pattern;
    uint16_t methods;
    uint8_t num_params;
};

constexpr fuzz_route fuzz_routes[] = {
    {"/", method_get, 0},
    {"/plaintext", method_get, 0},
    {"/json", method_get | method_post, 0},
    {"/users", method_get, 0},
    {"/users/", method_post, 0},
    {"/users/{uid:int}", method_get | method_put | method_delete, 1},
    {"/users/me", method_get, 0},
    {"/users/{name}/posts", method_get, 1},
    {"/users/{uid:int}/posts/{pid:int}", method_get, 2},
    {"/files/{name}", method_get | method_head, 1},
    {"/a/{x}/b/{y:int}", method_get, 2},
    {"/bt/{n:int}/x", method_get, 1},
    {"/bt/{s}/c", method_post, 1},
    {"/bt/5/static", method_get, 0},
    {"/caf\xc3\xa9", method_get, 0},
    {"/empty//seg", method_get, 0},
    {"/%", method_get, 0},
    {"/d/{a}/{b}/{c:int}/{d}", method_patch, 4},
    {"/q/{v:int}", method_options, 1},
    {"/q/{v}", method_other, 1},
    {"/n/{v:float}", method_get, 1},
    {"/n/{v:int}", method_get, 1},
    {"/u/{id:uuid}/x/{f:float}", method_get, 2},
    {"/u/{name}/x/{y}", method_get, 2},
    {"/files/{rest:path}", method_get, 1},
    {"/files/index", method_get, 0},
    {"/m/{a}/{rest:path}", method_post, 2},
};
constexpr size_t num_fuzz_routes = sizeof(fuzz_routes) / sizeof(fuzz_routes[0]);

const route_table& table() {
    static const route_table t = [] {
        route_table r;
        for (size_t i = 0; i < num_fuzz_routes; ++i) {
            if (!r.add(fuzz_routes[i].pattern, fuzz_routes[i].methods, static_cast<uint32_t>(i)).empty()) {
                std::abort();
            }
        }
        return r;
    }();
    return t;
}

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

constexpr uint16_t all_registered = [] {
    uint16_t m = 0;
    for (const auto& r : fuzz_routes) {
        m |= r.methods;
    }
    return m;
}();

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const route_table& t = table();

    constexpr uint16_t methods[] = {method_get, method_head, method_post, method_put, method_patch, method_other};
    for (uint16_t method : methods) {
        route_match m;
        uint16_t allowed = 0xffff;
        const route_status s = t.lookup(method, input, m, allowed);
        if (s == route_status::found) {
            check(m.handler_id < num_fuzz_routes);
            const fuzz_route& r = fuzz_routes[m.handler_id];
            check((r.methods & method) != 0 || (method == method_head && (r.methods & method_get) != 0));
            check(m.num_params == r.num_params);
            check(allowed == 0);
            for (size_t i = 0; i < m.num_params; ++i) {
                const std::string_view raw = m.params[i].raw;
                check(raw.data() >= input.data() && raw.data() + raw.size() <= input.data() + input.size());
                check(!raw.empty());
                const param_type type = m.params[i].type;
                if (type == param_type::path) {
                    // The rest of the path: it ends where the input ends.
                    check(raw.data() + raw.size() == input.data() + input.size());
                    check(i + 1 == m.num_params);
                } else {
                    check(raw.find('/') == std::string_view::npos);
                }
                if (type == param_type::floating) {
                    check(std::isfinite(float_of(m.params[i].int_value)));
                }
                if (type == param_type::uuid && raw.find('%') == std::string_view::npos) {
                    check(raw.size() == 36);
                }
            }
            check(t.param_names(m.handler_id).size() == r.num_params);
        } else if (s == route_status::method_not_allowed) {
            check(allowed != 0 && (allowed & ~(all_registered | method_head)) == 0);
            check((allowed & method) == 0);
        } else {
            check(allowed == 0);
        }
    }

    // Query splitting: every piece is no longer than the input.
    size_t pairs = 0;
    for_each_query_param(input, [&](std::string_view name, std::string_view value) {
        check(name.size() + value.size() <= input.size());
        ++pairs;
    });
    check(pairs <= size);

    std::string out;
    if (percent_decode(input, out, true)) {
        check(out.size() <= input.size());
        check(needs_decoding(input, true) || out == input);
    }
    out.clear();
    if (percent_decode(input, out, false)) {
        check(needs_decoding(input, false) || out == input);
    }
    return 0;
}
