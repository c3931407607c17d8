// Tests for dispatch/router: pattern forms and errors, static > int > float > uuid > str > path
// priority with backtracking, int/float/uuid parsing limits, path parameters,
// percent-decoded segments, HEAD -> GET, 405 masks.
#include "dispatch/router.hpp"
#include "http/parser.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace std::literals;
using namespace ringbolt::dispatch;
using namespace ringbolt::http;

namespace {

constexpr uint16_t GET = method_get;
constexpr uint16_t HEAD = method_head;
constexpr uint16_t POST = method_post;
constexpr uint16_t PUT = method_put;
constexpr uint16_t DEL = method_delete;

struct route_def {
    std::string_view pattern;
    uint16_t methods;
    uint32_t id;
};

// The table every lookup case runs against.
const std::vector<route_def> routes = {
    {"/", GET, 1},
    {"/plaintext", GET, 2},
    {"/users", GET, 3},
    {"/users", POST, 4},
    {"/users/", GET, 5}, // trailing slash: a different route
    {"/users/{uid:int}", GET | PUT, 6},
    {"/users/{uid:int}", DEL, 7},
    {"/users/me", GET, 8},
    {"/users/{name}/posts", GET, 9},
    {"/users/{uid:int}/posts/{pid:int}", GET, 10},
    {"/files/{name}", GET, 11},
    {"/a/{x}/b/{y:int}", GET, 12},
    // Backtracking: the int branch matches "5" but has no "/c" below it.
    {"/bt/{n:int}/x", GET, 13},
    {"/bt/{s}/c", GET, 14},
    {"/bt/5/static", GET, 15},
    {"/caf\xc3\xa9", GET, 16},
    {"/empty//seg", GET, 17},
    {"/head", HEAD, 18},
    {"/head", GET, 19},
    {"/only-post", POST, 20},
    {"/mixed/{v:int}", POST, 21},
    {"/mixed/{v}", PUT, 22},
    {"/d/{a}/{b}/{c:int}", GET, 23},
    {"/pct%41", GET, 24}, // a literal '%': matched by what decodes to it, never by itself
};

struct param_expect {
    param_type type;
    std::string_view raw;
    int64_t value = 0;
};

struct lookup_case {
    uint16_t method;
    std::string_view path;
    route_status status;
    uint32_t id = 0;                       // when found
    std::vector<param_expect> params = {}; // when found
    uint16_t allowed = 0;                  // when method_not_allowed
};

constexpr auto found = route_status::found;
constexpr auto nf = route_status::not_found;
constexpr auto mna = route_status::method_not_allowed;
constexpr auto I = param_type::integer;
constexpr auto S = param_type::str;

const std::vector<lookup_case> lookup_cases = {
    // Static routes and the trailing-slash rule.
    {GET, "/", found, 1},
    {GET, "/plaintext", found, 2},
    {GET, "/plaintext/", nf},
    {GET, "//", nf},
    {GET, "/users", found, 3},
    {POST, "/users", found, 4},
    {GET, "/users/", found, 5},
    {GET, "/nope", nf},
    {GET, "", nf},
    {GET, std::string_view{}, nf},
    {GET, "*", nf},
    {GET, "users", nf},
    {GET, "/empty//seg", found, 17},
    {GET, "/empty/seg", nf},
    // Int params: sign, bounds, digits only.
    {GET, "/users/42", found, 6, {{I, "42", 42}}},
    {PUT, "/users/42", found, 6, {{I, "42", 42}}},
    {DEL, "/users/42", found, 7, {{I, "42", 42}}},
    {GET, "/users/-7", found, 6, {{I, "-7", -7}}},
    {GET, "/users/-0", found, 6, {{I, "-0", 0}}},
    {GET, "/users/007", found, 6, {{I, "007", 7}}},
    {GET, "/users/9223372036854775807", found, 6, {{I, "9223372036854775807", INT64_MAX}}},
    {GET, "/users/-9223372036854775808", found, 6, {{I, "-9223372036854775808", INT64_MIN}}},
    {GET, "/users/0000000000000000001", found, 6, {{I, "0000000000000000001", 1}}}, // 19 digits
    // Not ints: fall through to the str route only where one exists (GET /users/{name} has none
    // at leaf level; "/users/{name}/posts" needs more segments).
    {GET, "/users/9223372036854775808", nf},
    {GET, "/users/-9223372036854775809", nf},
    {GET, "/users/00000000000000000001", nf}, // 20 digits
    {GET, "/users/+5", nf},
    {GET, "/users/-", nf},
    {GET, "/users/1a", nf},
    {GET, "/users/9223372036854775808/posts", found, 9, {{S, "9223372036854775808"}}},
    // Static beats int beats str (a path equal to a static pattern is found without the
    // walk; a method its route lacks takes the walk).
    {GET, "/users/me", found, 8},
    {HEAD, "/users/me", found, 8},
    {PUT, "/users/me", mna, 0, {}, GET | HEAD},
    {GET, "/pct%41", nf},
    {GET, "/pct%2541", found, 24},
    {GET, "/users/bob/posts", found, 9, {{S, "bob"}}},
    {GET, "/users/12/posts", found, 9, {{S, "12"}}}, // int branch has /posts/{pid} only
    {GET, "/users/12/posts/34", found, 10, {{I, "12", 12}, {I, "34", 34}}},
    {GET, "/users/12/posts/x", nf},
    {GET, "/users/me/posts", found, 9, {{S, "me"}}}, // static "me" has no /posts: backtrack to str
    // Backtracking across branches.
    {GET, "/bt/5/x", found, 13, {{I, "5", 5}}},
    {GET, "/bt/5/c", found, 14, {{S, "5"}}},
    {GET, "/bt/5/static", found, 15},
    {GET, "/bt/q/x", nf},
    {GET, "/bt/q/c", found, 14, {{S, "q"}}},
    // Str params: one non-empty segment.
    {GET, "/files/report.pdf", found, 11, {{S, "report.pdf"}}},
    {GET, "/files/", nf},
    {GET, "/files/a/b", nf},
    {GET, "/a/x1/b/2", found, 12, {{S, "x1"}, {I, "2", 2}}},
    {GET, "/a/x1/b/two", nf},
    {GET, "/d/p/q/3", found, 23, {{S, "p"}, {S, "q"}, {I, "3", 3}}},
    // Percent-decoding per segment; raw views stay undecoded.
    {GET, "/caf%C3%A9", found, 16},
    {GET, "/caf%c3%a9", found, 16},
    {GET, "/%70laintext", found, 2},
    {GET, "/files/a%2Fb", found, 11, {{S, "a%2Fb"}}}, // %2F does not split
    {GET, "/files/a%2", nf},                          // malformed escape
    {GET, "/files/%zz", nf},
    {GET, "/files/%", nf},
    {GET, "/users/%34%32", found, 6, {{I, "%34%32", 42}}},
    {GET, "/users/%2D5", found, 6, {{I, "%2D5", -5}}},
    {GET, "/users/%6De", found, 8},
    {GET, "/a/%2F/b/%31", found, 12, {{S, "%2F"}, {I, "%31", 1}}},
    {GET, "/users%2F42", nf},
    {GET, "/empty/%2F/seg", nf},
    // HEAD falls back to GET; an explicit HEAD route wins.
    {HEAD, "/", found, 1},
    {HEAD, "/users/5", found, 6, {{I, "5", 5}}},
    {HEAD, "/head", found, 18},
    {GET, "/head", found, 19},
    // 405 with the allowed mask (HEAD included when GET is there).
    {POST, "/", mna, 0, {}, GET | HEAD},
    {PUT, "/users", mna, 0, {}, GET | HEAD | POST},
    {POST, "/users/42", mna, 0, {}, GET | HEAD | PUT | DEL},
    {GET, "/only-post", mna, 0, {}, POST},
    {HEAD, "/only-post", mna, 0, {}, POST},
    {DEL, "/head", mna, 0, {}, GET | HEAD},
    // Method-aware backtracking: int route is POST only, str route PUT only.
    {POST, "/mixed/1", found, 21, {{I, "1", 1}}},
    {PUT, "/mixed/1", found, 22, {{S, "1"}}},
    {GET, "/mixed/1", mna, 0, {}, POST | PUT},
    {GET, "/mixed/x", mna, 0, {}, PUT},
    {POST, "/mixed/x", mna, 0, {}, PUT},
    // Path matches a static leaf for another method and a param leaf for this one.
    {PUT, "/users/me", mna, 0, {}, GET | HEAD},
};

route_table build(const std::vector<route_def>& defs) {
    route_table t;
    for (const auto& r : defs) {
        const std::string err = t.add(r.pattern, r.methods, r.id);
        EXPECT_EQ(err, "") << r.pattern;
    }
    return t;
}

// Each case looked up in `t`: its status, and what a match or a 405 carries.
void check_lookups(const route_table& t, const std::vector<lookup_case>& cases) {
    for (const auto& c : cases) {
        route_match m;
        uint16_t allowed = 0xffff;
        const route_status s = t.lookup(c.method, c.path, m, allowed);
        SCOPED_TRACE(std::string(c.path) + " method bit " + std::to_string(c.method));
        ASSERT_EQ(static_cast<int>(s), static_cast<int>(c.status));
        if (s == found) {
            EXPECT_EQ(m.handler_id, c.id);
            ASSERT_EQ(m.num_params, c.params.size());
            for (size_t i = 0; i < c.params.size(); ++i) {
                EXPECT_EQ(m.params[i].type, c.params[i].type) << i;
                EXPECT_EQ(m.params[i].raw, c.params[i].raw) << i;
                // Raw views point into the looked-up path.
                EXPECT_GE(m.params[i].raw.data(), c.path.data());
                EXPECT_LE(m.params[i].raw.data() + m.params[i].raw.size(), c.path.data() + c.path.size());
                if (c.params[i].type == I) {
                    EXPECT_EQ(m.params[i].int_value, c.params[i].value) << i;
                }
            }
            EXPECT_EQ(allowed, 0);
        } else if (s == mna) {
            EXPECT_EQ(allowed, c.allowed);
        } else {
            EXPECT_EQ(allowed, 0);
        }
    }
}

TEST(router, lookup_table) {
    check_lookups(build(routes), lookup_cases);
}

// Converters: float, uuid and path beside int, str and static routes.
const std::vector<route_def> converter_routes = {
    {"/n/{v:int}", GET, 1},
    {"/n/{v:float}", GET, 2},
    {"/n/{v}", GET, 3},
    {"/f/{v:float}", GET, 4},
    {"/u/{id:uuid}", GET, 5},
    {"/u/{name}", GET, 6},
    {"/u/{id:uuid}/items/{n:int}", GET, 7},
    {"/files/{p:path}", GET, 8},
    {"/files/index", GET, 9},
    {"/mix/{a}/{p:path}", GET, 10},
    {"/static/{p:path}", GET, 11},
    {"/static/{d}/x", POST, 12},
    {"/c/{all:path}", PUT, 13}, // a catch-all for one method
    {"/only-uuid/{u:uuid}", GET, 14},
};

constexpr auto F = param_type::floating;
constexpr auto U = param_type::uuid;
constexpr auto P = param_type::path;

// Owns the bytes its case views (a temporary std::string in the table would dangle).
const std::string huge_float_path = "/f/" + std::string(400, '9');

const std::vector<lookup_case> converter_cases = {
    // int before float before str at the same position.
    {GET, "/n/5", found, 1, {{I, "5", 5}}},
    {GET, "/n/5.5", found, 2, {{F, "5.5"}}},
    {GET, "/n/-0.25", found, 2, {{F, "-0.25"}}},
    {GET, "/n/5.", found, 3, {{S, "5."}}},
    {GET, "/n/.5", found, 3, {{S, ".5"}}},
    {GET, "/n/1e5", found, 3, {{S, "1e5"}}},
    {GET, "/n/nan", found, 3, {{S, "nan"}}},
    {GET, "/n/inf", found, 3, {{S, "inf"}}},
    {GET, "/n/%35.5", found, 2, {{F, "%35.5"}}},
    {GET, "/n/99999999999999999999", found, 2, {{F, "99999999999999999999"}}}, // not int64: a float
    // A float-only position: what does not convert does not match.
    {GET, "/f/1.5", found, 4, {{F, "1.5"}}},
    {GET, "/f/7", found, 4, {{F, "7"}}},
    {GET, "/f/1.5.5", nf},
    {GET, "/f/1,5", nf},
    {GET, "/f/+1.5", nf},
    {GET, "/f/-", nf},
    {GET, "/f/-.5", nf},
    {GET, "/f/1e3", nf},
    {GET, "/f/infinity", nf},
    {GET, "/f/", nf},
    {GET, huge_float_path, nf}, // out of double's range
    // uuid before str.
    {GET, "/u/123e4567-e89b-12d3-a456-426614174000", found, 5, {{U, "123e4567-e89b-12d3-a456-426614174000"}}},
    {GET, "/u/123E4567-E89B-12D3-A456-426614174000", found, 5, {{U, "123E4567-E89B-12D3-A456-426614174000"}}},
    {GET, "/u/123e4567e89b12d3a456426614174000", found, 6, {{S, "123e4567e89b12d3a456426614174000"}}},
    {GET, "/u/123e4567-e89b-12d3-a456-42661417400g", found, 6, {{S, "123e4567-e89b-12d3-a456-42661417400g"}}},
    {GET,
     "/u/123e4567-e89b-12d3-a456-426614174000/items/3",
     found,
     7,
     {{U, "123e4567-e89b-12d3-a456-426614174000"}, {I, "3", 3}}},
    {GET, "/u/bob/items/3", nf},
    {GET, "/only-uuid/123e4567-e89b-12d3-a456-4266141740", nf},
    {GET, "/only-uuid/123e4567_e89b_12d3_a456_426614174000", nf},
    {GET, "/only-uuid/{123e4567-e89b-12d3-a456-426614174000}", nf},
    // path: the rest, slashes included, never empty; static wins.
    {GET, "/files/a.txt", found, 8, {{P, "a.txt"}}},
    {GET, "/files/dir/sub/a.txt", found, 8, {{P, "dir/sub/a.txt"}}},
    {GET, "/files/dir/", found, 8, {{P, "dir/"}}},
    {GET, "/files//x", found, 8, {{P, "/x"}}},
    {GET, "/files/index", found, 9},
    {GET, "/files/index/more", found, 8, {{P, "index/more"}}},
    {GET, "/files/a%2Fb", found, 8, {{P, "a%2Fb"}}},
    {GET, "/files/", nf},
    {GET, "/files", nf},
    {GET, "/files/a/%zz", nf}, // a malformed escape anywhere in the rest
    {GET, "/files/a/b%2", nf},
    {GET, "/mix/x/y/z", found, 10, {{S, "x"}, {P, "y/z"}}},
    {GET, "/mix/x", nf},
    // Method-aware: the catch-all PUT route, and a static/str POST route under a path route.
    {PUT, "/c/anything/at/all", found, 13, {{P, "anything/at/all"}}},
    {GET, "/c/x", mna, 0, {}, PUT},
    {DEL, "/files/a", mna, 0, {}, GET | HEAD},
    {POST, "/static/d/x", found, 12, {{S, "d"}}},
    {GET, "/static/d/x", found, 11, {{P, "d/x"}}},
    {PUT, "/c/", nf}, // the rest is empty
};

TEST(router, converters) {
    check_lookups(build(converter_routes), converter_cases);
}

TEST(router, root_catch_all_is_the_last_resort) {
    route_table t;
    ASSERT_EQ(t.add("/{all:path}", GET, 1), "");
    ASSERT_EQ(t.add("/api/{id:int}", GET, 2), "");
    ASSERT_EQ(t.add("/", GET, 3), "");
    const std::vector<std::pair<std::string_view, uint32_t>> cases = {
        {"/api/5", 2}, {"/api/x", 1}, {"/", 3}, {"/a/b/c", 1}, {"//", 1}, {"/api", 1},
    };
    for (const auto& [path, id] : cases) {
        route_match m;
        uint16_t allowed;
        ASSERT_EQ(t.lookup(GET, path, m, allowed), found) << path;
        EXPECT_EQ(m.handler_id, id) << path;
    }
    route_match m;
    uint16_t allowed;
    EXPECT_EQ(t.lookup(POST, "/x/y", m, allowed), mna);
    EXPECT_EQ(allowed, GET | HEAD);
}

TEST(router, float_values) {
    route_table t;
    ASSERT_EQ(t.add("/f/{v:float}", GET, 1), "");
    const std::vector<std::pair<std::string_view, double>> cases = {
        {"/f/0", 0.0},
        {"/f/-0.0", -0.0},
        {"/f/1.5", 1.5},
        {"/f/-2.25", -2.25},
        {"/f/0001.10", 1.1},
        {"/f/%31.5", 1.5},
        {"/f/3.141592653589793", 3.141592653589793},
        {"/f/123456789012345678901234567890", 1.2345678901234568e29},
    };
    for (const auto& [path, value] : cases) {
        route_match m;
        uint16_t allowed;
        ASSERT_EQ(t.lookup(GET, path, m, allowed), found) << path;
        EXPECT_EQ(float_of(m.params[0].int_value), value) << path;
    }
}

TEST(router, param_names_in_pattern_order) {
    const route_table t = build(routes);
    EXPECT_EQ(t.param_names(10), (std::vector<std::string>{"uid", "pid"}));
    EXPECT_EQ(t.param_names(12), (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(t.param_names(2), std::vector<std::string>{});
    EXPECT_EQ(t.param_names(999), std::vector<std::string>{});
}

TEST(router, same_position_params_may_have_different_names) {
    route_table t;
    EXPECT_EQ(t.add("/u/{id:int}", GET, 1), "");
    EXPECT_EQ(t.add("/u/{uid:int}/x", GET, 2), "");
    EXPECT_EQ(t.add("/u/{id:int}", POST, 3), "");
    EXPECT_EQ(t.param_names(2), (std::vector<std::string>{"uid"}));
    route_match m;
    uint16_t allowed;
    ASSERT_EQ(t.lookup(GET, "/u/4/x", m, allowed), found);
    EXPECT_EQ(m.handler_id, 2u);
}

struct error_case {
    std::string_view pattern;
    uint16_t methods;
    std::string_view message_part; // the message must contain this
};

// Registered before the error cases: {"/dup", GET}, {"/p/{a}", GET|POST}.
const std::vector<error_case> error_cases = {
    {"", GET, "must start with '/'"},
    {"users", GET, "must start with '/'"},
    {"/{}", GET, "invalid parameter name \"\""},
    {"/{:int}", GET, "invalid parameter name \"\""},
    {"/{1x}", GET, "invalid parameter name \"1x\""},
    {"/{a-b}", GET, "invalid parameter name \"a-b\""},
    {"/{a b}", GET, "invalid parameter name"},
    {"/{x:double}", GET, "unknown parameter type \"double\""},
    {"/{x:Path}", GET, "unknown parameter type \"Path\""},
    {"/{p:path}/x", GET, "must be the last segment"},
    {"/{p:path}/", GET, "must be the last segment"},
    {"/d/{p:path}", GET, "already registered"}, // registered before the cases
    {"/d/{q:path}", GET, "already registered (as /d/{p:path})"},
    {"/{x:}", GET, "unknown parameter type \"\""},
    {"/{x:int:str}", GET, "unknown parameter type \"int:str\""},
    {"/{x:INT}", GET, "unknown parameter type \"INT\""},
    {"/a{x}", GET, "whole segment"},
    {"/{x}a", GET, "whole segment"},
    {"/{x", GET, "whole segment"},
    {"/x}", GET, "whole segment"},
    {"/{{x}}", GET, "whole segment"},
    {"/{x}{y}", GET, "whole segment"},
    {"/{a}/{b}/{a}", GET, "duplicate parameter name \"a\""},
    {"/{a}/{b:int}/{a:int}", GET, "duplicate parameter name \"a\""},
    {"/{p0}/{p1}/{p2}/{p3}/{p4}/{p5}/{p6}/{p7}/{p8}/{p9}/{p10}/{p11}/{p12}/{p13}/{p14}/{p15}/{p16}", GET,
     "more than 16 parameters"},
    {"/dup", GET, "route GET /dup is already registered"},
    {"/dup", GET | POST, "route GET /dup is already registered"},
    {"/p/{b}", POST, "route POST /p/{b} is already registered (as /p/{a})"},
    {"/p/{x:str}", GET, "already registered"}, // {x:str} is {x}
    {"/ok", 0, "has no methods"},
};

TEST(router, pattern_errors) {
    route_table t;
    ASSERT_EQ(t.add("/dup", GET, 100), "");
    ASSERT_EQ(t.add("/p/{a}", GET | POST, 101), "");
    ASSERT_EQ(t.add("/d/{p:path}", GET, 102), "");
    for (const auto& c : error_cases) {
        const std::string err = t.add(c.pattern, c.methods, 200);
        EXPECT_NE(err.find(c.message_part), std::string::npos) << "pattern: " << c.pattern << "\nmessage: " << err;
    }
    // A failed add leaves the table unchanged: /dup POST was not registered by the GET|POST attempt.
    route_match m;
    uint16_t allowed;
    EXPECT_EQ(t.lookup(POST, "/dup", m, allowed), mna);
    EXPECT_EQ(allowed, GET | HEAD);
    // Exactly 16 parameters is fine.
    EXPECT_EQ(
        t.add("/{p0}/{p1}/{p2}/{p3}/{p4}/{p5}/{p6}/{p7}/{p8}/{p9}/{p10}/{p11}/{p12}/{p13}/{p14}/{p15:int}", GET, 300),
        "");
    ASSERT_EQ(t.lookup(GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/-16", m, allowed), found);
    EXPECT_EQ(m.num_params, 16);
    EXPECT_EQ(m.params[15].int_value, -16);
}

TEST(router, handler_id_reused_with_other_names_is_rejected) {
    route_table t;
    EXPECT_EQ(t.add("/a/{x}", GET, 1), "");
    EXPECT_EQ(t.add("/b/{x}", GET, 1), ""); // same names: fine
    EXPECT_NE(t.add("/c/{y}", GET, 1), "");
}

TEST(router, move_keeps_routes) {
    route_table t = build(routes);
    route_table moved(std::move(t));
    route_match m;
    uint16_t allowed;
    ASSERT_EQ(moved.lookup(GET, "/plaintext", m, allowed), found);
    EXPECT_EQ(m.handler_id, 2u);
    route_table assigned;
    assigned = std::move(moved);
    ASSERT_EQ(assigned.lookup(GET, "/users/3/posts/4", m, allowed), found);
    EXPECT_EQ(m.handler_id, 10u);
}

// 100 routes: many static children at one node (binary-search path) plus params.
TEST(router, hundred_routes) {
    route_table t;
    uint32_t id = 0;
    for (int i = 0; i < 40; ++i) {
        ASSERT_EQ(t.add("/static" + std::to_string(i), GET, id++), "");
    }
    for (int i = 0; i < 30; ++i) {
        ASSERT_EQ(t.add("/res" + std::to_string(i) + "/{id:int}", GET, id++), "");
    }
    for (int i = 0; i < 30; ++i) {
        ASSERT_EQ(t.add("/res" + std::to_string(i) + "/{id:int}/sub/{name}", GET | POST, id++), "");
    }
    ASSERT_EQ(id, 100u);
    route_match m;
    uint16_t allowed;
    for (int i = 0; i < 40; ++i) {
        ASSERT_EQ(t.lookup(GET, "/static" + std::to_string(i), m, allowed), found) << i;
        EXPECT_EQ(m.handler_id, static_cast<uint32_t>(i));
    }
    for (int i = 0; i < 30; ++i) {
        const std::string one = "/res" + std::to_string(i) + "/" + std::to_string(i * 1000);
        ASSERT_EQ(t.lookup(GET, one, m, allowed), found) << one;
        EXPECT_EQ(m.handler_id, static_cast<uint32_t>(40 + i));
        EXPECT_EQ(m.params[0].int_value, i * 1000);
        const std::string two = one + "/sub/n" + std::to_string(i);
        ASSERT_EQ(t.lookup(POST, two, m, allowed), found) << two;
        EXPECT_EQ(m.handler_id, static_cast<uint32_t>(70 + i));
        ASSERT_EQ(m.num_params, 2);
        EXPECT_EQ(m.params[1].raw, "n" + std::to_string(i));
    }
    EXPECT_EQ(t.lookup(GET, "/static40", m, allowed), nf);
    EXPECT_EQ(t.lookup(GET, "/res5/x", m, allowed), nf);
    EXPECT_EQ(t.lookup(PUT, "/res5/1/sub/z", m, allowed), mna);
    EXPECT_EQ(allowed, GET | HEAD | POST);
}

// Static patterns of every length around the words the exact table hashes (1-40 bytes),
// neighbours that differ in their last byte only or in one byte of the word before it:
// each path finds its own route, a path one byte off finds none.
TEST(router, static_paths_of_every_length) {
    route_table t;
    const auto path = [](size_t len, char last, char mid) {
        std::string p = "/";
        for (size_t i = 1; i + 1 < len; ++i) {
            p.push_back(static_cast<char>('a' + i % 26));
        }
        if (len >= 10) {
            p[len - 9] = mid; // in the word before the last eight bytes
        }
        if (len >= 2) {
            p.push_back(last);
        }
        return p;
    };
    for (size_t len = 2; len <= 40; ++len) {
        ASSERT_EQ(t.add(path(len, '1', 'q'), GET, static_cast<uint32_t>(len * 4)), "") << len;
        ASSERT_EQ(t.add(path(len, '2', 'q'), GET, static_cast<uint32_t>(len * 4 + 1)), "") << len;
        if (len >= 10) {
            ASSERT_EQ(t.add(path(len, '1', 'r'), GET, static_cast<uint32_t>(len * 4 + 2)), "") << len;
        }
    }
    route_match m;
    uint16_t allowed;
    for (size_t len = 2; len <= 40; ++len) {
        ASSERT_EQ(t.lookup(GET, path(len, '1', 'q'), m, allowed), found) << len;
        EXPECT_EQ(m.handler_id, len * 4) << len;
        ASSERT_EQ(t.lookup(GET, path(len, '2', 'q'), m, allowed), found) << len;
        EXPECT_EQ(m.handler_id, len * 4 + 1) << len;
        ASSERT_EQ(t.lookup(GET, path(len, '1', 'r'), m, allowed), found) << len;
        EXPECT_EQ(m.handler_id, len >= 10 ? len * 4 + 2 : len * 4) << len; // short: one pattern
        EXPECT_EQ(t.lookup(GET, path(len, '3', 'q'), m, allowed), nf) << len;
        EXPECT_EQ(t.lookup(GET, path(len, '1', 'q') + "1", m, allowed), nf) << len;
        if (len >= 10) {
            EXPECT_EQ(t.lookup(GET, path(len, '1', 's'), m, allowed), nf) << len;
        }
    }
}

} // namespace
