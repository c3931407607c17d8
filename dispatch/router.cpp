// Route table: a radix tree over path segments (static children, and one child per
// parameter converter: int, float, uuid, str, path), pattern parsing and validation, and
// the allocation-free lookup with static > int > float > uuid > str > path priority and
// backtracking.
//
// Path model: the path after its leading '/' is split on '/', so "/" is one empty
// segment, "/users/" is ["users", ""] and "//" is ["", ""]. A trailing slash is
// therefore significant: "/users" and "/users/" are different routes and neither
// redirects to the other (strict, like Starlette with redirect_slashes=False).
// Empty segments are matched literally; a str parameter never matches an empty one.
// A path parameter ("{p:path}", last in its pattern) takes the rest of the raw path from
// its segment on, slashes included, when that is not empty and its escapes are well formed.
// Path segments are percent-decoded before comparison; static pattern segments are not
// (they are written decoded: "/café", not "/caf%C3%A9").
#include "dispatch/router.hpp"

#include "http/method_names.hpp"
#include "http/parser.hpp"
#include "http/query.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>

namespace ringbolt::dispatch {

namespace {

constexpr uint32_t no_node = UINT32_MAX;
constexpr size_t num_method_slots = 16; // one handler slot per method_bit (uint16_t mask)
constexpr size_t linear_scan_max = 8;   // static children beyond this use a hash index

// A static segment as two overlapping 8-byte words (first and last bytes), loaded only
// from inside the segment. Segments of equal length up to 16 bytes are equal exactly when
// their words are, so most comparisons need no memcmp; the words also feed the hash.
struct seg_words {
    uint64_t a = 0;
    uint64_t b = 0;
    bool operator==(const seg_words&) const = default;
};

inline seg_words load_words(const char* p, size_t n) noexcept {
    seg_words w;
    if (n >= 8) [[likely]] {
        std::memcpy(&w.a, p, 8);
        std::memcpy(&w.b, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x;
        uint32_t y;
        std::memcpy(&x, p, 4);
        std::memcpy(&y, p + n - 4, 4);
        w.a = x;
        w.b = y;
    } else if (n > 0) {
        w.a = static_cast<unsigned char>(p[0]) | (static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
              (static_cast<uint64_t>(static_cast<unsigned char>(p[n - 1])) << 16);
    }
    return w;
}

inline uint64_t hash_words(const seg_words& w, size_t n) noexcept {
    // Products carry low bits upwards only, so fold the high half down before the
    // low bits index the table.
    uint64_t h = (w.a * 0x9E3779B97F4A7C15ull) ^ (w.b * 0xC2B2AE3D27D4EB4Full) ^ n;
    h ^= h >> 32;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

struct static_edge {
    seg_words words;
    uint32_t key_len;
    uint32_t key_off; // into impl::keys
    uint32_t child;
};

struct node {
    std::vector<static_edge> statics;
    std::vector<uint32_t> slots; // open-addressing index into statics when statics is wide
    uint32_t int_child = no_node;
    uint32_t str_child = no_node;
    uint32_t route = no_node; // index into impl::routes when a route ends here
    uint32_t rare = no_node;  // index into impl::rare when a float, uuid or path child exists
};
// A node is one cache line; the converters most routes never use live beside it.
static_assert(sizeof(node) <= 64, "keep a route-table node in one cache line");

struct rare_children {
    uint32_t float_child = no_node;
    uint32_t uuid_child = no_node;
    uint32_t path_child = no_node; // always a leaf: a path parameter is the last segment
};

struct route_leaf {
    uint16_t mask = 0;      // methods registered here
    uint8_t num_params = 0; // same for every method: the tree position fixes the shape
    uint32_t handlers[num_method_slots] = {};
    std::string pattern; // as first registered, for messages
};

struct pattern_segment {
    bool literal;
    param_type type;       // when !literal
    std::string_view text; // literal text, or the parameter name
};

bool is_identifier(std::string_view s) noexcept {
    if (s.empty()) {
        return false;
    }
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        const bool digit = c >= '0' && c <= '9';
        if (!(alpha || (digit && i > 0))) {
            return false;
        }
    }
    return true;
}

// Optional '-', then 1..19 decimal digits, and the value must fit int64.
bool parse_int64(std::string_view s, int64_t& out) noexcept {
    const char* p = s.data();
    const char* const end = p + s.size();
    bool negative = false;
    if (p != end && *p == '-') {
        negative = true;
        ++p;
    }
    const size_t digits = static_cast<size_t>(end - p);
    if (digits == 0 || digits > 19) [[unlikely]] {
        return false;
    }
    uint64_t v = 0;
    for (; p != end; ++p) {
        const unsigned d = static_cast<unsigned char>(*p) - static_cast<unsigned>('0');
        if (d > 9) {
            return false;
        }
        v = v * 10 + d; // 19 digits < 10^19 < 2^64: cannot wrap
    }
    constexpr uint64_t max_pos = static_cast<uint64_t>(INT64_MAX);
    if (negative) {
        if (v > max_pos + 1) {
            return false;
        }
        out = v == max_pos + 1 ? INT64_MIN : -static_cast<int64_t>(v);
    } else {
        if (v > max_pos) {
            return false;
        }
        out = static_cast<int64_t>(v);
    }
    return true;
}

// -?[0-9]+(.[0-9]+)?, converted to a finite double. Deliberately narrower than strtod:
// no exponent, no inf/nan, no leading '+' or '.', so a URL has one spelling per value class.
bool parse_decimal(std::string_view s, double& out) noexcept {
    size_t i = s.size() != 0 && s[0] == '-' ? 1 : 0;
    const size_t int_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        ++i;
    }
    if (i == int_start) {
        return false;
    }
    if (i < s.size()) {
        if (s[i] != '.') {
            return false;
        }
        const size_t frac_start = ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            ++i;
        }
        if (i == frac_start || i != s.size()) {
            return false;
        }
    }
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::fixed);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size() && std::isfinite(out);
}

// 8-4-4-4-12 hex digits (RFC 9562 §4 string form), upper or lower case.
bool is_uuid(std::string_view s) noexcept {
    if (s.size() != 36) {
        return false;
    }
    for (size_t i = 0; i < 36; ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return false;
            }
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Every '%' is followed by two hex digits (what percent_decode accepts).
bool escapes_well_formed(std::string_view s) noexcept {
    for (size_t i = s.find('%'); i != std::string_view::npos; i = s.find('%', i + 3)) {
        if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
            return false;
        }
    }
    return true;
}

// First '/' in [p, e), or e; `has_escape` tells whether a '%' comes before it. Segments
// are short, so instead of memchr calls this tests eight bytes at a time (SWAR). In the
// zero-byte test only bytes above a true match can be false positives, so the lowest
// flagged byte is exact, and a '%' flag below the first '/' is a real '%'.
static_assert(std::endian::native == std::endian::little, "segment_end assumes little-endian loads");

inline const char* segment_end(const char* p, const char* e, bool& has_escape) noexcept {
    constexpr uint64_t ones = 0x0101010101010101ull;
    constexpr uint64_t highs = 0x8080808080808080ull;
    while (e - p >= 8) {
        uint64_t x;
        std::memcpy(&x, p, 8);
        const uint64_t s = x ^ (ones * '/');
        const uint64_t q = x ^ (ones * '%');
        const uint64_t slash = (s - ones) & ~s & highs;
        const uint64_t pct = (q - ones) & ~q & highs;
        if (slash != 0) {
            has_escape |= (pct & (slash ^ (slash - 1))) != 0; // any '%' bytes below the first '/'
            return p + (std::countr_zero(slash) >> 3);
        }
        has_escape |= pct != 0;
        p += 8;
    }
    while (p != e && *p != '/') {
        has_escape |= *p == '%';
        ++p;
    }
    return p;
}

std::string method_list(uint16_t mask) {
    std::string s;
    http::append_method_names(s, mask);
    if (mask & http::method_other) {
        s.append(s.empty() ? "" : ", ").append("another method");
    }
    return s;
}

} // namespace

struct route_table::impl {
    std::vector<node> nodes{1}; // nodes[0] is the root (before the first segment)
    std::vector<route_leaf> routes;
    std::vector<rare_children> rare;
    std::string keys; // bytes of all static segments
    std::unordered_map<uint32_t, std::vector<std::string>> names_by_handler;
    /// Patterns without parameters or '%', as written, to their leaf node: a path equal
    /// to one is found without the walk (static segments win over parameters at every
    /// level, so the walk would end at that leaf too); a method that leaf lacks takes
    /// the walk (a parameter route may take it, or it is a 405). Open addressing with a
    /// word-wise hash: std::unordered_map's find compares a string key with every
    /// element while it holds 20 or fewer (libstdc++'s small-size path), more than this
    /// costs.
    struct exact_table {
        struct slot {
            std::string key;
            uint32_t node = no_node;
        };
        std::vector<slot> slots;
        size_t count = 0;

        // Eight bytes at a time (a multiply and a rotate a word); the last 1-7 bytes as the
        // string's last eight (overlapping the word before), or one by one in a string
        // shorter than a word: a fraction of FNV-1a's byte loop for a path of a dozen bytes.
        static uint64_t hash(std::string_view s) noexcept {
            const char* p = s.data();
            size_t n = s.size();
            uint64_t h = n * 0x9e3779b97f4a7c15ull;
            for (; n >= 8; p += 8, n -= 8) {
                uint64_t w;
                std::memcpy(&w, p, 8);
                h = std::rotl((h ^ w) * 0xff51afd7ed558ccdull, 29);
            }
            uint64_t tail = 0;
            if (n != 0 && s.size() >= 8) {
                std::memcpy(&tail, s.data() + s.size() - 8, 8);
            } else {
                for (size_t i = 0; i < n; ++i) {
                    tail |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
                }
            }
            h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
            return h ^ (h >> 29) ^ (h >> 47);
        }
        uint32_t find(std::string_view k) const noexcept {
            if (count == 0) {
                return no_node;
            }
            const size_t mask = slots.size() - 1;
            for (size_t i = hash(k) & mask; slots[i].node != no_node; i = (i + 1) & mask) {
                if (slots[i].key == k) {
                    return slots[i].node;
                }
            }
            return no_node;
        }
        void insert(std::string_view k, uint32_t node) {
            if (find(k) != no_node) {
                return; // the same pattern for more methods: the same leaf
            }
            if ((count + 1) * 2 > slots.size()) {
                std::vector<slot> old = std::move(slots);
                slots.assign(std::max<size_t>(16, old.size() * 2), slot{});
                count = 0;
                for (slot& s : old) {
                    if (s.node != no_node) {
                        insert(s.key, s.node);
                    }
                }
            }
            const size_t mask = slots.size() - 1;
            size_t i = hash(k) & mask;
            while (slots[i].node != no_node) {
                i = (i + 1) & mask;
            }
            slots[i] = slot{std::string(k), node};
            ++count;
        }
    };
    exact_table exact;

    bool edge_matches(const static_edge& e, std::string_view seg, const seg_words& w) const noexcept {
        if (e.key_len != seg.size() || !(e.words == w)) {
            return false;
        }
        return seg.size() <= 16 || std::memcmp(keys.data() + e.key_off, seg.data(), seg.size()) == 0;
    }

    uint32_t find_static(const node& n, std::string_view seg) const noexcept {
        const seg_words w = load_words(seg.data(), seg.size());
        const static_edge* e = n.statics.data();
        if (n.slots.empty()) [[likely]] {
            const size_t count = n.statics.size();
            for (size_t i = 0; i < count; ++i) {
                if (edge_matches(e[i], seg, w)) {
                    return e[i].child;
                }
            }
            return no_node;
        }
        const size_t mask = n.slots.size() - 1; // a power of two
        for (uint64_t i = hash_words(w, seg.size());; ++i) {
            const uint32_t idx = n.slots[i & mask];
            if (idx == no_node) {
                return no_node;
            }
            if (edge_matches(e[idx], seg, w)) {
                return e[idx].child;
            }
        }
    }

    static void rebuild_slots(node& n) {
        n.slots.clear();
        if (n.statics.size() <= linear_scan_max) {
            return;
        }
        size_t size = 16;
        while (size < n.statics.size() * 2) {
            size *= 2;
        }
        n.slots.assign(size, no_node);
        for (uint32_t idx = 0; idx < n.statics.size(); ++idx) {
            const static_edge& e = n.statics[idx];
            for (uint64_t i = hash_words(e.words, e.key_len);; ++i) {
                uint32_t& slot = n.slots[i & (size - 1)];
                if (slot == no_node) {
                    slot = idx;
                    break;
                }
            }
        }
    }

    uint32_t static_child_for_add(uint32_t parent, std::string_view seg) {
        if (uint32_t c = find_static(nodes[parent], seg); c != no_node) {
            return c;
        }
        const uint32_t child = static_cast<uint32_t>(nodes.size());
        nodes.emplace_back();
        const static_edge e{load_words(seg.data(), seg.size()), static_cast<uint32_t>(seg.size()),
                            static_cast<uint32_t>(keys.size()), child};
        keys.append(seg);
        node& p = nodes[parent];
        p.statics.push_back(e);
        rebuild_slots(p);
        return child;
    }

    uint32_t& param_slot(uint32_t n, param_type type) {
        node& nd = nodes[n];
        switch (type) {
        case param_type::integer:
            return nd.int_child;
        case param_type::str:
            return nd.str_child;
        case param_type::floating:
        case param_type::uuid:
        case param_type::path:
            break;
        }
        if (nd.rare == no_node) {
            nd.rare = static_cast<uint32_t>(rare.size());
            rare.emplace_back();
        }
        rare_children& rc = rare[nd.rare];
        return type == param_type::floating ? rc.float_child : type == param_type::uuid ? rc.uuid_child : rc.path_child;
    }

    uint32_t param_child_for_add(uint32_t parent, param_type type) {
        if (const uint32_t existing = param_slot(parent, type); existing != no_node) {
            return existing;
        }
        const uint32_t child = static_cast<uint32_t>(nodes.size());
        nodes.emplace_back(); // may move nodes: fetch the slot again
        param_slot(parent, type) = child;
        return child;
    }

    // State of one lookup, threaded through the recursive walk.
    struct walk_state {
        std::string_view path; // raw
        uint16_t method;
        uint16_t allowed; // union of masks of leaves matching the path but not the method
        route_match* out;
    };

    bool check_leaf(uint32_t n, uint8_t num_params, walk_state& st) const noexcept {
        const uint32_t r = nodes[n].route;
        if (r == no_node) {
            return false;
        }
        const route_leaf& leaf = routes[r];
        uint16_t m = st.method;
        if (!(leaf.mask & m)) [[unlikely]] {
            if (m == http::method_head && (leaf.mask & http::method_get)) {
                m = http::method_get; // HEAD is GET without the body (RFC 9110 §9.3.2)
            } else {
                st.allowed |= leaf.mask;
                if (leaf.mask & http::method_get) {
                    st.allowed |= http::method_head;
                }
                return false;
            }
        }
        st.out->handler_id = leaf.handlers[std::countr_zero(m)];
        st.out->num_params = num_params;
        return true;
    }

    // Match the segment starting at raw index `pos` against node `n`'s children, then
    // the rest of the path below the chosen child; backtrack on failure.
    bool walk(uint32_t n, size_t pos, uint8_t num_params, walk_state& st) const noexcept {
        // Nodes with a float, uuid or path child take the general walk; the others one
        // compiled without that code (as fast as before those converters existed).
        return nodes[n].rare == no_node ? walk_node<false>(n, pos, num_params, st)
                                        : walk_node<true>(n, pos, num_params, st);
    }

    template <bool with_rare>
    bool walk_node(uint32_t n, size_t pos, uint8_t num_params, walk_state& st) const noexcept {
        const std::string_view path = st.path;
        bool has_escape = false;
        const char* seg_end = segment_end(path.data() + pos, path.data() + path.size(), has_escape);
        const size_t end = static_cast<size_t>(seg_end - path.data());
        const std::string_view raw = path.substr(pos, end - pos);
        const node& nd = nodes[n];

        // Everything that needs the segment's decoded bytes is computed before descending,
        // so one per-thread buffer serves every depth (deeper levels reuse it).
        std::string_view seg = raw;
        if (has_escape) [[unlikely]] {
            thread_local std::string decoded; // grows to the longest segment seen, then no allocation
            decoded.clear();
            if (!http::percent_decode(raw, decoded, false)) {
                return false; // a malformed escape: this segment matches nothing
            }
            seg = decoded; // a decoded "%2F" stays inside the segment
        }
        const uint32_t static_child = nd.statics.empty() ? no_node : find_static(nd, seg);
        int64_t int_value = 0;
        const bool try_int = nd.int_child != no_node && parse_int64(seg, int_value);
        bool rare_float = false; // plain locals (registers): no stack object per level
        bool rare_uuid = false;
        double float_value = 0;
        if constexpr (with_rare) {
            const rare_checks r = check_rare(rare[nd.rare], seg);
            rare_float = r.is_float;
            rare_uuid = r.is_uuid;
            float_value = r.float_value;
        }
        const bool try_str = nd.str_child != no_node && !seg.empty();

        const bool last = end == path.size();
        const size_t next = end + 1;
        if (static_child != no_node) {
            if (last ? check_leaf(static_child, num_params, st) : walk(static_child, next, num_params, st)) {
                return true;
            }
        }
        const auto np = static_cast<uint8_t>(num_params + 1);
        if (try_int) {
            st.out->params[num_params] = route_param{param_type::integer, raw, int_value};
            if (last ? check_leaf(nd.int_child, np, st) : walk(nd.int_child, next, np, st)) {
                return true;
            }
        }
        if (with_rare && (rare_float || rare_uuid)) {
            if (walk_rare(rare[nd.rare], rare_float, rare_uuid, float_value, raw, last, next, num_params, st)) {
                return true;
            }
        }
        if (try_str) {
            st.out->params[num_params] = route_param{param_type::str, raw, 0};
            if (last ? check_leaf(nd.str_child, np, st) : walk(nd.str_child, next, np, st)) {
                return true;
            }
        }
        if (with_rare && rare[nd.rare].path_child != no_node) {
            // The rest of the raw path from this segment on, slashes included.
            const std::string_view rest = path.substr(pos);
            if (!rest.empty() && escapes_well_formed(rest)) {
                st.out->params[num_params] = route_param{param_type::path, rest, 0};
                return check_leaf(rare[nd.rare].path_child, np, st);
            }
        }
        return false;
    }

    // The float and uuid children, out of walk()'s body so that tables without them
    // (most) pay one predictable branch per segment and nothing else.
    struct rare_checks {
        bool is_float = false;
        bool is_uuid = false;
        double float_value = 0;
    };

    [[gnu::noinline]] static rare_checks check_rare(const rare_children& rc, std::string_view seg) noexcept {
        rare_checks r;
        r.is_float = rc.float_child != no_node && parse_decimal(seg, r.float_value);
        r.is_uuid = rc.uuid_child != no_node && is_uuid(seg);
        return r;
    }

    [[gnu::noinline]] bool walk_rare(const rare_children& rc, bool is_float, bool is_uuid, double float_value,
                                     std::string_view raw, bool last, size_t next, uint8_t num_params,
                                     walk_state& st) const noexcept {
        const auto np = static_cast<uint8_t>(num_params + 1);
        if (is_float) {
            st.out->params[num_params] = route_param{param_type::floating, raw, std::bit_cast<int64_t>(float_value)};
            if (last ? check_leaf(rc.float_child, np, st) : walk(rc.float_child, next, np, st)) {
                return true;
            }
        }
        if (is_uuid) {
            st.out->params[num_params] = route_param{param_type::uuid, raw, 0};
            if (last ? check_leaf(rc.uuid_child, np, st) : walk(rc.uuid_child, next, np, st)) {
                return true;
            }
        }
        return false;
    }
};

route_table::route_table() : _impl(std::make_unique<impl>()) {}
route_table::~route_table() = default;
route_table::route_table(route_table&&) noexcept = default;
route_table& route_table::operator=(route_table&&) noexcept = default;

std::string route_table::add(std::string_view pattern, uint16_t method_mask, uint32_t handler_id) {
    if (pattern.empty() || pattern.front() != '/') {
        return "route pattern must start with '/': \"" + std::string(pattern) + "\"";
    }
    if (method_mask == 0) {
        return "route \"" + std::string(pattern) + "\" has no methods";
    }
    const std::string quoted = "\"" + std::string(pattern) + "\"";

    // Parse and validate the whole pattern before touching the tree.
    std::vector<pattern_segment> segs;
    std::vector<std::string> names;
    size_t pos = 1;
    while (true) {
        const size_t slash = pattern.find('/', pos);
        const size_t end = slash == std::string_view::npos ? pattern.size() : slash;
        const std::string_view s = pattern.substr(pos, end - pos);
        const size_t open = s.find('{');
        const size_t close = s.find('}');
        if (open == std::string_view::npos && close == std::string_view::npos) {
            segs.push_back({true, param_type::str, s});
        } else {
            if (open != 0 || close != s.size() - 1 || s.find('{', 1) != std::string_view::npos ||
                s.find('}') != s.size() - 1) {
                return "in route " + quoted +
                       ": a parameter must be a whole segment like {name} or {name:int}, got \"" + std::string(s) +
                       "\"";
            }
            const std::string_view inner = s.substr(1, s.size() - 2);
            const size_t colon = inner.find(':');
            const std::string_view name = inner.substr(0, colon);
            const std::string_view type = colon == std::string_view::npos ? "str" : inner.substr(colon + 1);
            if (!is_identifier(name)) {
                return "in route " + quoted + ": invalid parameter name \"" + std::string(name) +
                       "\" (must be an identifier)";
            }
            param_type kind;
            if (type == "int") {
                kind = param_type::integer;
            } else if (type == "str") {
                kind = param_type::str;
            } else if (type == "float") {
                kind = param_type::floating;
            } else if (type == "uuid") {
                kind = param_type::uuid;
            } else if (type == "path") {
                kind = param_type::path;
                if (slash != std::string_view::npos) {
                    return "in route " + quoted + ": the path parameter \"" + std::string(name) +
                           "\" takes the rest of the path, so it must be the last segment";
                }
            } else {
                return "in route " + quoted + ": unknown parameter type \"" + std::string(type) + "\" for \"" +
                       std::string(name) + "\" (allowed: str, int, float, uuid, path)";
            }
            if (std::find(names.begin(), names.end(), name) != names.end()) {
                return "in route " + quoted + ": duplicate parameter name \"" + std::string(name) + "\"";
            }
            if (names.size() == max_route_params) {
                return "in route " + quoted + ": more than " + std::to_string(max_route_params) + " parameters";
            }
            names.emplace_back(name);
            segs.push_back({false, kind, name});
        }
        if (slash == std::string_view::npos) {
            break;
        }
        pos = slash + 1;
    }

    if (auto it = _impl->names_by_handler.find(handler_id);
        it != _impl->names_by_handler.end() && it->second != names) {
        return "handler id " + std::to_string(handler_id) + " is already used by a route with other parameter names";
    }

    // Check for a duplicate before creating nodes: if the leaf exists, no node is new.
    uint32_t n = 0;
    for (const auto& s : segs) {
        if (s.literal) {
            n = _impl->static_child_for_add(n, s.text);
        } else {
            n = _impl->param_child_for_add(n, s.type);
        }
    }
    node& leaf_node = _impl->nodes[n];
    if (leaf_node.route == no_node) {
        leaf_node.route = static_cast<uint32_t>(_impl->routes.size());
        route_leaf leaf;
        leaf.num_params = static_cast<uint8_t>(names.size());
        leaf.pattern = std::string(pattern);
        _impl->routes.push_back(std::move(leaf));
    }
    route_leaf& leaf = _impl->routes[leaf_node.route];
    if (const uint16_t dup = leaf.mask & method_mask; dup != 0) {
        std::string msg = "route " + method_list(dup) + " " + std::string(pattern) + " is already registered";
        if (leaf.pattern != pattern) {
            msg += " (as " + leaf.pattern + ")";
        }
        return msg;
    }
    leaf.mask |= method_mask;
    for (size_t i = 0; i < num_method_slots; ++i) {
        if (method_mask & (1u << i)) {
            leaf.handlers[i] = handler_id;
        }
    }
    if (names.empty() && pattern.find('%') == std::string_view::npos) {
        _impl->exact.insert(pattern, n);
    }
    _impl->names_by_handler.emplace(handler_id, std::move(names));
    return {};
}

route_status route_table::lookup(uint16_t method_id, std::string_view path, route_match& out,
                                 uint16_t& allowed) const noexcept {
    allowed = 0;
    out.num_params = 0;
    if (path.empty() || path.front() != '/') [[unlikely]] {
        return route_status::not_found;
    }
    if (const uint32_t leaf = _impl->exact.find(path); leaf != no_node) {
        impl::walk_state exact{path, method_id, 0, &out};
        if (_impl->check_leaf(leaf, 0, exact)) [[likely]] {
            return route_status::found;
        }
    }
    impl::walk_state st{path, method_id, 0, &out};
    if (_impl->walk(0, 1, 0, st)) [[likely]] {
        return route_status::found;
    }
    if (st.allowed != 0) {
        allowed = st.allowed;
        return route_status::method_not_allowed;
    }
    return route_status::not_found;
}

const std::vector<std::string>& route_table::param_names(uint32_t handler_id) const {
    static const std::vector<std::string> none;
    auto it = _impl->names_by_handler.find(handler_id);
    return it != _impl->names_by_handler.end() ? it->second : none;
}

} // namespace ringbolt::dispatch
