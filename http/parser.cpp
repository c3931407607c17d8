// HTTP/1.1 request-head parser (RFC 9112, strict): request line, header fields and the
// framing/connection facts derived from them. Pure function over bytes: no allocation,
// every view points into the caller's buffer, and any split of the input agrees.
#include "http/parser.hpp"

#include "core/strings.hpp"
#include "http/char_classes.hpp"
#include "http/method_names.hpp"

#include <array>
#include <bit>
#include <cstring>

namespace ringbolt::http {

namespace {

// Character classes: http/char_classes.hpp.
using chars::in_set;
using chars::is_alpha;
using chars::is_digit;
using chars::is_hex;
constexpr const chars::char_table& target_table = chars::target;
constexpr const chars::char_table& value_table = chars::field_value;
constexpr const chars::char_table& regname_table = chars::regname;
/// Where a request-target's path ends: '?' (a query follows) or '#' (a fragment).
/// reg-name's bytes but '%' (a pct-encoded triple is checked apart).
constexpr chars::char_table regname_plain =
    chars::make_table([](unsigned char c) { return c != '%' && chars::regname[c]; });

inline bool tchar(char c) noexcept {
    return chars::tchar[static_cast<unsigned char>(c)];
}

// ---------------------------------------------------------------------------------
// Small helpers.

constexpr parse_outcome fail(http_error e) noexcept {
    return {parse_status::error, e, 0};
}
constexpr parse_outcome need_more() noexcept {
    return {parse_status::incomplete, http_error::none, 0};
}

/// The lowest flagged byte (0-7) of an 8-byte test's mask, or 8 when none is. The tests
/// below are exact at their lowest flagged byte (a false flag only follows a true one,
/// the borrow running upward), so the bytes are read lowest first in memory order.
inline unsigned first_flagged(uint64_t m) noexcept {
    return m == 0 ? 8 : static_cast<unsigned>(__builtin_ctzll(m)) / 8;
}

inline uint64_t load8(const char* p) noexcept {
    uint64_t x;
    std::memcpy(&x, p, 8);
    if constexpr (std::endian::native == std::endian::big) {
        x = __builtin_bswap64(x);
    }
    return x;
}

constexpr uint64_t ones8 = 0x0101010101010101ull;
constexpr uint64_t highs8 = 0x8080808080808080ull;

/// How many of the 8 bytes at p, from the first, are field-value bytes that need no second
/// look: none a CTL (< 0x20, HTAB included) or DEL.
inline unsigned swar_value_run(const char* p) noexcept {
    const uint64_t x = load8(p);
    const uint64_t below_space = (x - ones8 * 0x20) & ~x & highs8;
    const uint64_t del = x ^ (ones8 * 0x7f);
    const uint64_t has_del = (del - ones8) & ~del & highs8;
    return first_flagged(below_space | has_del);
}

/// How many of the 8 bytes at p, from the first, are request-target bytes (VCHAR,
/// 0x21-0x7e: no SP, CTL, DEL or byte >= 0x80), as chars::target says one at a time.
inline unsigned swar_target_run(const char* p) noexcept {
    const uint64_t x = load8(p);
    const uint64_t below_bang = (x - ones8 * 0x21) & ~x & highs8;
    const uint64_t del = x ^ (ones8 * 0x7f);
    const uint64_t has_del = (del - ones8) & ~del & highs8;
    return first_flagged(below_bang | has_del | (x & highs8));
}

/// Where the first byte equal to A or B is among the 8 bytes at p (0-7), or 8.
template <char A, char B> unsigned swar_first_of(const char* p) noexcept {
    const uint64_t x = load8(p);
    const uint64_t a = x ^ (ones8 * static_cast<unsigned char>(A));
    const uint64_t b = x ^ (ones8 * static_cast<unsigned char>(B));
    return first_flagged((((a - ones8) & ~a) | ((b - ones8) & ~b)) & highs8);
}

/// The index of the first A or B in s from `from` on, or s.size(): eight bytes at a time,
/// then one by one (short strings: no call to memchr).
template <char A, char B> size_t find_first_of(std::string_view s, size_t from) noexcept {
    const size_t n = s.size();
    size_t i = from;
    while (i + 8 <= n) {
        const unsigned k = swar_first_of<A, B>(s.data() + i);
        if (k < 8) {
            return i + k;
        }
        i += 8;
    }
    while (i < n && s[i] != A && s[i] != B) {
        ++i;
    }
    return i;
}

/// uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2-3.2.3). Rejects userinfo ('@'),
/// paths, whitespace and anything else outside the host grammar. `require_port` is for
/// authority-form (RFC 9112 §3.2.3), where the port is mandatory.
bool valid_host_port(std::string_view s, bool require_port) noexcept {
    const size_t n = s.size();
    size_t p = 0;
    if (n > 0 && s[0] == '[') {
        // IP-literal: IPv6address / IPvFuture; checked for its alphabet only.
        ++p;
        while (p < n && s[p] != ']') {
            const auto c = static_cast<unsigned char>(s[p]);
            if (!(is_hex(c) || c == ':' || c == '.' || (regname_table[c] && c != '%'))) {
                return false;
            }
            ++p;
        }
        if (p == n || p == 1) {
            return false;
        }
        ++p; // ']'
    } else {
        // One table look-up a byte (every Host field of every request passes here); a
        // '%' stops the run and is checked on its own.
        const auto plain = [&s](size_t i) {
            return static_cast<unsigned>(regname_plain[static_cast<unsigned char>(s[i])]);
        };
        for (;;) {
            while (p + 4 <= n && (plain(p) & plain(p + 1) & plain(p + 2) & plain(p + 3))) {
                p += 4; // four at a time: a host name is mostly such runs
            }
            while (p < n && plain(p)) {
                ++p;
            }
            if (p == n || s[p] != '%') {
                break;
            }
            // pct-encoded = "%" HEXDIG HEXDIG
            if (p + 2 >= n || !is_hex(static_cast<unsigned char>(s[p + 1])) ||
                !is_hex(static_cast<unsigned char>(s[p + 2]))) {
                return false;
            }
            p += 3;
        }
        if (p == 0) {
            return false;
        }
    }
    if (p == n) {
        return !require_port;
    }
    if (s[p] != ':') {
        return false;
    }
    ++p;
    if (require_port && p == n) {
        return false;
    }
    for (; p < n; ++p) {
        if (!is_digit(static_cast<unsigned char>(s[p]))) {
            return false;
        }
    }
    return true;
}

/// Splits `rest` (what follows the authority, or the whole origin-form target) into path
/// and query. A fragment ("#...") is not part of request-target (RFC 9112 §3.2), but
/// clients do send it; it is tolerated and dropped from path and query.
inline void split_path_query(std::string_view rest, request_head& out) noexcept {
    // The path runs to the first '?' or '#', a query after '?' to a '#' (eight bytes at a
    // time: every request's target passes here).
    const size_t n = rest.size();
    const size_t i = find_first_of<'?', '#'>(rest, 0);
    out.path = rest.substr(0, i);
    if (i == n || rest[i] == '#') {
        out.query = {};
        return;
    }
    const size_t end = find_first_of<'#', '#'>(rest, i + 1);
    out.query = rest.substr(i + 1, end - i - 1);
}

/// Classifies the request-target (RFC 9112 §3.2) and fills path/query.
bool parse_target(std::string_view target, uint16_t method_id, request_head& out) noexcept {
    if (method_id == method_connect) [[unlikely]] {
        // RFC 9112 §3.2.3: CONNECT uses authority-form, and only CONNECT does.
        if (!valid_host_port(target, true)) {
            return false;
        }
        out.path = target;
        out.query = {};
        return true;
    }
    if (target[0] == '/') [[likely]] {
        // origin-form = absolute-path [ "?" query ] (§3.2.1)
        split_path_query(target, out);
        return true;
    }
    if (target.size() == 1 && target[0] == '*') {
        // asterisk-form, only for a server-wide OPTIONS (§3.2.4)
        if (method_id != method_options) {
            return false;
        }
        out.path = target;
        out.query = {};
        return true;
    }
    // absolute-form (§3.2.2): "http://" or "https://", scheme case-insensitive.
    size_t scheme_len = 0;
    if (target.size() >= 7 && core::iequals_lower(target.substr(0, 7), "http://")) {
        scheme_len = 7;
    } else if (target.size() >= 8 && core::iequals_lower(target.substr(0, 8), "https://")) {
        scheme_len = 8;
    } else {
        return false;
    }
    size_t auth_end = scheme_len;
    while (auth_end < target.size() && target[auth_end] != '/' && target[auth_end] != '?' && target[auth_end] != '#') {
        ++auth_end;
    }
    // RFC 9110 §4.2.1/§4.2.4: an http(s) URI has a non-empty host and no userinfo.
    if (!valid_host_port(target.substr(scheme_len, auth_end - scheme_len), false)) {
        return false;
    }
    std::string_view rest = target.substr(auth_end);
    split_path_query(rest, out);
    if (out.path.empty()) {
        // Empty path means "/" (RFC 9110 §4.2.3); the last '/' of "://" is one, so the
        // view still points into the caller's buffer.
        out.path = target.substr(scheme_len - 1, 1);
    }
    return true;
}

/// Content-Length = 1*DIGIT (RFC 9110 §8.6). A list whose members are all the same
/// valid value ("5, 5", what a proxy makes of duplicated fields) is accepted as that
/// value, as §8.6 allows; anything else, empty members included, is rejected. Values
/// above 2^63-1 overflow and are rejected.
bool parse_content_length(std::string_view v, uint64_t& value, bool& seen) noexcept {
    return core::for_each_list_element(v, [&](std::string_view e) {
        if (e.empty() || e.size() > 19) {
            return false; // 19 digits cover 2^63-1; more can only overflow (or be zeros: reject too)
        }
        uint64_t x = 0;
        for (char c : e) {
            if (!is_digit(static_cast<unsigned char>(c))) {
                return false;
            }
            x = x * 10 + static_cast<uint64_t>(c - '0');
        }
        if (x > static_cast<uint64_t>(INT64_MAX)) {
            return false;
        }
        if (seen && x != value) {
            return false; // differing values: RFC 9112 §6.3 item 5, unrecoverable
        }
        value = x;
        seen = true;
        return true;
    });
}

/// Facts gathered from the fields during the scan; judged once the head is complete so
/// that the order of the checks (and thus the error reported) is fixed.
struct field_facts {
    uint64_t content_length = 0;
    bool cl_seen = false;
    bool cl_bad = false;
    bool te_seen = false;
    http_error te_error = http_error::none; // first bad coding, in order
    uint8_t te_chunked = 0;                 // "chunked" occurrences, saturating at 2
    bool te_last_chunked = false;
    uint8_t host_count = 0; // saturating at 2
    // Authorization and Proxy-Authorization fields, one bit each, and the second seen of
    // either (RFC 9110 §11.6.2, §11.7.2: one credential each).
    uint8_t credentials_seen = 0;
    bool credentials_repeated = false;
    bool conn_close = false;
    bool conn_keep_alive = false;
    bool conn_upgrade = false;
    bool upgrade_seen = false;
    bool expect_continue = false;
    bool expect_bad = false;
};

/// Transfer-Encoding = #transfer-coding (RFC 9112 §6.1), combined across fields in order.
void note_transfer_encoding(std::string_view v, field_facts& f) noexcept {
    f.te_seen = true;
    core::for_each_list_element(v, [&](std::string_view c) {
        if (c.empty()) {
            return true; // empty list elements are allowed and ignored (RFC 9110 §5.6.1)
        }
        f.te_last_chunked = false;
        if (core::iequals_lower(c, "chunked")) {
            if (f.te_chunked < 2) {
                ++f.te_chunked; // saturate: 256 "chunked" must not wrap back to one
            }
            f.te_last_chunked = true;
            return true;
        }
        if (f.te_error != http_error::none) {
            return true;
        }
        for (char ch : c) {
            if (!tchar(ch)) {
                // parameters or garbage: we accept no transfer-parameters
                f.te_error = http_error::bad_transfer_encoding;
                return true;
            }
        }
        if (!(core::iequals_lower(c, "gzip") || core::iequals_lower(c, "x-gzip") || core::iequals_lower(c, "deflate") ||
              core::iequals_lower(c, "compress") || core::iequals_lower(c, "identity"))) {
            f.te_error = http_error::not_implemented; // RFC 9112 §6.1: unknown coding -> 501
        }
        return true;
    });
}

/// Connection = #connection-option (RFC 9110 §7.6.1).
void note_connection(std::string_view v, field_facts& f) noexcept {
    core::for_each_list_element(v, [&](std::string_view t) {
        if (core::iequals_lower(t, "close")) {
            f.conn_close = true;
        } else if (core::iequals_lower(t, "keep-alive")) {
            f.conn_keep_alive = true;
        } else if (core::iequals_lower(t, "upgrade")) {
            f.conn_upgrade = true;
        }
        return true;
    });
}

inline uint32_t load4(const char* p) noexcept {
    uint32_t x;
    std::memcpy(&x, p, 4);
    return x;
}

/// A field name `s` (n >= 4 bytes, all tchar) is `lower` (n bytes: lower-case letters,
/// digits, '-'), ASCII case-insensitively: a word at a time (eight bytes, or four under
/// eight), the last word overlapping the others; `n` and the literal's words fold into
/// constants. OR 0x20 maps a capital onto its letter and leaves '-' and digits alone;
/// the other bytes it would map onto them are not tchar.
inline bool name_is(const char* s, const char* lower, size_t n) noexcept {
    if (n < 8) {
        return (((load4(s) | 0x20202020u) ^ load4(lower)) |
                ((load4(s + n - 4) | 0x20202020u) ^ load4(lower + n - 4))) == 0;
    }
    uint64_t diff = 0;
    for (size_t i = 0; i + 8 < n; i += 8) {
        diff |= (load8(s + i) | ones8 * 0x20) ^ load8(lower + i);
    }
    diff |= (load8(s + n - 8) | ones8 * 0x20) ^ load8(lower + n - 8);
    return diff == 0;
}

constexpr uint8_t authorization_bit = 1;
constexpr uint8_t proxy_authorization_bit = 2;

/// A singleton credential field (Authorization, Proxy-Authorization): a second one is
/// refused (finish_head), whichever comes first, so no reader (the kept-token paths
/// included) ever picks one of two.
inline void note_credentials(uint8_t bit, field_facts& f) noexcept {
    f.credentials_repeated |= (f.credentials_seen & bit) != 0;
    f.credentials_seen |= bit;
}

/// Recognises the fields that drive framing and connection handling, and the singletons
/// checked here. Switch on the name length first so most fields cost one compare at most.
inline void note_field(std::string_view name, std::string_view value, field_facts& f, request_head& out) noexcept {
    const char* s = name.data();
    switch (name.size()) {
    case 4:
        if (name_is(s, "host", 4)) {
            if (f.host_count < 2) {
                ++f.host_count;
            }
            out.host = value;
        }
        break;
    case 6:
        if (name_is(s, "expect", 6)) {
            // RFC 9110 §10.1.1: the only expectation defined is 100-continue.
            if (core::iequals_lower(value, "100-continue")) {
                f.expect_continue = true;
            } else {
                f.expect_bad = true;
            }
        }
        break;
    case 7:
        if (name_is(s, "upgrade", 7)) {
            f.upgrade_seen = true;
        }
        break;
    case 10:
        if (name_is(s, "connection", 10)) {
            note_connection(value, f);
        }
        break;
    case 13:
        if (name_is(s, "authorization", 13)) {
            note_credentials(authorization_bit, f);
        }
        break;
    case 14:
        if (name_is(s, "content-length", 14)) {
            if (!parse_content_length(value, f.content_length, f.cl_seen)) {
                f.cl_bad = true;
            }
        }
        break;
    case 17:
        if (name_is(s, "transfer-encoding", 17)) {
            note_transfer_encoding(value, f);
        }
        break;
    case 19:
        if (name_is(s, "proxy-authorization", 19)) {
            note_credentials(proxy_authorization_bit, f);
        }
        break;
    default:
        break;
    }
}

/// Final semantic checks on a complete head, in a fixed order: framing first (request
/// smuggling), then Host, then the credential singletons, then Expect.
http_error finish_head(const field_facts& f, request_head& out) noexcept {
    if (f.cl_bad) [[unlikely]] {
        return http_error::bad_content_length;
    }
    if (f.te_seen) [[unlikely]] {
        if (f.cl_seen) {
            return http_error::ambiguous_framing; // RFC 9112 §6.3 item 3: reject, never guess
        }
        if (out.version_minor == 0) {
            return http_error::bad_transfer_encoding; // RFC 9112 §6.1: TE on 1.0 is faulty framing
        }
        if (f.te_error != http_error::none) {
            return f.te_error;
        }
        // RFC 9112 §6.1/§6.3: chunked exactly once, and last.
        if (f.te_chunked != 1 || !f.te_last_chunked) {
            return http_error::bad_transfer_encoding;
        }
        out.body = body_kind::chunked;
    } else if (f.cl_seen && f.content_length > 0) {
        out.body = body_kind::content_length;
        out.content_length = f.content_length;
    }
    // RFC 9112 §3.2: exactly one Host on 1.1, and it must be a valid uri-host[:port].
    if (f.host_count > 1) [[unlikely]] {
        return http_error::bad_host;
    }
    if (f.host_count == 0) {
        if (out.version_minor == 1) [[unlikely]] {
            return http_error::missing_host;
        }
    } else if (!out.host.empty()) {
        const std::string_view host = out.host;
        if (host.size() != out.checked_host_len || std::memcmp(host.data(), out.checked_host, host.size()) != 0)
            [[unlikely]] {
            if (!valid_host_port(host, false)) [[unlikely]] {
                return http_error::bad_host;
            }
            if (host.size() <= request_head::checked_host_max) {
                std::memcpy(out.checked_host, host.data(), host.size());
                out.checked_host_len = static_cast<uint8_t>(host.size());
            }
        }
    }
    // RFC 9110 §11.6.2, §11.7.2: one credential each; of two, no reader may pick one.
    if (f.credentials_repeated) [[unlikely]] {
        return http_error::repeated_credentials;
    }
    if (f.expect_bad) [[unlikely]] {
        return http_error::expectation_failed; // RFC 9110 §10.1.1
    }
    // RFC 9110 §10.1.1: a 1.0 client cannot handle 100 (Continue); ignore the expectation.
    out.expect_continue = f.expect_continue && out.version_minor == 1;
    // RFC 9112 §9.3: 1.1 is persistent unless "close"; 1.0 only with "keep-alive".
    out.keep_alive = !f.conn_close && (out.version_minor == 1 || f.conn_keep_alive);
    out.upgrade = f.conn_upgrade && f.upgrade_seen;
    return http_error::none;
}

} // namespace

// How limits and incremental input agree: the parser only ever looks at the first
// min(size, max_head_bytes) bytes (the window) and scans them strictly left to right,
// deciding each error from bytes already seen. Running out of the window means
// "incomplete", or 431 when the window was cut by the limit (the head is then surely
// longer). The request line has its own window for 414. Hence parsing any prefix gives
// either "incomplete" or exactly the result of parsing the whole input.
parse_outcome parse_request_head(std::string_view buf, request_head& out, const parser_limits& limits) noexcept {
    const char* const b = buf.data();
    const size_t n = buf.size();
    const size_t w = n < limits.max_head_bytes ? n : limits.max_head_bytes;
    const parse_outcome out_of_bytes = n >= limits.max_head_bytes ? fail(http_error::header_too_large) : need_more();
    const size_t max_fields = limits.max_headers < max_header_fields ? limits.max_headers : max_header_fields;

    // RFC 9112 §2.2: ignore at least one empty line (CRLF) before the request line.
    size_t i = 0;
    while (i < w && b[i] == '\r')
        [[unlikely]] {
            if (i + 1 >= w) {
                return out_of_bytes;
            }
            if (b[i + 1] != '\n') {
                return fail(http_error::bad_request); // bare CR
            }
            i += 2;
        }

    // ---- request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3)
    // The CR must sit at most max_request_line bytes after the line start.
    const size_t line_start = i;
    // (A limit at or above the buffer size cannot bind: avoid overflowing the sum.)
    const size_t rl_bound = limits.max_request_line >= n ? SIZE_MAX : line_start + limits.max_request_line + 1;
    const size_t rl_end = rl_bound < w ? rl_bound : w;
    const parse_outcome rl_stop = rl_bound <= w ? fail(http_error::uri_too_long) : out_of_bytes;

    while (i < rl_end && tchar(b[i]))
        [[likely]] {
            ++i;
        }
    if (i == rl_end) [[unlikely]] {
        return rl_stop;
    }
    if (i == line_start || b[i] != ' ') [[unlikely]] {
        return fail(http_error::bad_request); // empty method, or not exactly one SP
    }
    out.method = std::string_view(b + line_start, i - line_start);
    const size_t target_start = ++i;
    while (i + 8 <= rl_end) { // eight at a time, to the first byte that ends it; then the tail
        const unsigned k = swar_target_run(b + i);
        i += k;
        if (k < 8) {
            break;
        }
    }
    while (i < rl_end && target_table[static_cast<unsigned char>(b[i])])
        [[likely]] {
            ++i;
        }
    if (i == rl_end) [[unlikely]] {
        return rl_stop;
    }
    if (i == target_start || b[i] != ' ') [[unlikely]] {
        return fail(http_error::bad_request); // empty target, CTL/DEL/8-bit byte, or extra SP
    }
    out.target = std::string_view(b + target_start, i - target_start);
    ++i;

    // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
    if (i + 10 <= w && i + 8 < rl_end && std::memcmp(b + i, "HTTP/1.1\r\n", 10) == 0) [[likely]] {
        out.version_minor = 1;
        i += 10;
    } else {
        static constexpr char pattern[] = "HTTP/9.9\r";
        for (size_t k = 0; k < 9; ++k) {
            if (i + k >= rl_end) {
                return rl_stop;
            }
            const char c = b[i + k];
            const bool ok = pattern[k] == '9' ? is_digit(static_cast<unsigned char>(c)) : c == pattern[k];
            if (!ok) {
                return fail(http_error::bad_request);
            }
        }
        if (i + 9 >= w) {
            return out_of_bytes;
        }
        if (b[i + 9] != '\n') {
            return fail(http_error::bad_request); // bare CR
        }
        if (b[i + 5] != '1') {
            return fail(http_error::version_not_supported); // 505 for 0.x and 2+ (RFC 9110 §15.6.6)
        }
        out.version_minor = b[i + 7] == '0' ? 0 : 1; // 1.2+ is served as 1.1 (RFC 9110 §6.2)
        i += 10;
    }

    out.method_id = method_bit_of(out.method);
    if (!parse_target(out.target, out.method_id, out)) [[unlikely]] {
        return fail(http_error::bad_request);
    }

    // ---- *( field-line CRLF ) CRLF (RFC 9112 §5)
    field_facts facts;
    out.host = {};
    out.body = body_kind::none;
    out.content_length = 0;
    out.expect_continue = false;
    out.upgrade = false;
    size_t nh = 0;
    for (;;) {
        if (i >= w) [[unlikely]] {
            out.num_headers = static_cast<uint16_t>(nh);
            return out_of_bytes;
        }
        const char first = b[i];
        if (first == '\r') {
            if (i + 1 >= w) {
                out.num_headers = static_cast<uint16_t>(nh);
                return out_of_bytes;
            }
            if (b[i + 1] != '\n') [[unlikely]] {
                return fail(http_error::bad_request);
            }
            i += 2;
            break;
        }
        // A line starting with SP/HTAB is obs-fold (RFC 9112 §5.2: reject); a bare LF,
        // a colon or any other non-tchar cannot start a field name either.
        if (!tchar(first)) [[unlikely]] {
            return fail(http_error::bad_request);
        }
        if (nh == max_fields) [[unlikely]] {
            return fail(http_error::header_too_large);
        }
        const size_t name_start = i;
        ++i;
        while (i < w && tchar(b[i]))
            [[likely]] {
                ++i;
            }
        if (i == w) [[unlikely]] {
            out.num_headers = static_cast<uint16_t>(nh);
            return out_of_bytes;
        }
        if (b[i] != ':') [[unlikely]] {
            return fail(http_error::bad_request); // RFC 9112 §5.1: no whitespace before the colon
        }
        const size_t name_end = i;
        ++i;
        while (i < w && core::is_ows(b[i])) {
            ++i;
        }
        const size_t value_start = i;
        for (;;) {
            while (i + 8 <= w) { // eight at a time, to the first CTL or DEL; then one by one
                const unsigned k = swar_value_run(b + i);
                i += k;
                if (k < 8) {
                    break;
                }
            }
            while (i < w && value_table[static_cast<unsigned char>(b[i])] && b[i] != '\t') {
                ++i;
            }
            if (i < w && b[i] == '\t') {
                ++i;
                continue;
            }
            break;
        }
        if (i + 1 >= w) [[unlikely]] {
            if (i < w && b[i] != '\r') {
                return fail(http_error::bad_request);
            }
            out.num_headers = static_cast<uint16_t>(nh);
            return out_of_bytes;
        }
        // RFC 9112 §2.2: a field line ends with CRLF; bare CR, bare LF, NUL and other
        // CTLs are rejected.
        if (b[i] != '\r' || b[i + 1] != '\n') [[unlikely]] {
            return fail(http_error::bad_request);
        }
        size_t value_end = i;
        while (value_end > value_start && core::is_ows(b[value_end - 1])) {
            --value_end;
        }
        header_field& h = out.headers[nh++];
        h.name = std::string_view(b + name_start, name_end - name_start);
        h.value = std::string_view(b + value_start, value_end - value_start);
        note_field(h.name, h.value, facts, out);
        i += 2;
    }

    out.num_headers = static_cast<uint16_t>(nh);
    const http_error e = finish_head(facts, out);
    if (e != http_error::none) [[unlikely]] {
        return fail(e);
    }
    out.head_bytes = i;
    return {parse_status::complete, http_error::none, i};
}

bool has_head_end(std::string_view buf, size_t from) noexcept {
    // The terminator may straddle the previous end of data: back up 3 bytes.
    const size_t start = from >= 3 ? from - 3 : 0;
    if (start >= buf.size() || buf.size() - start < 4) {
        return false;
    }
    return memmem(buf.data() + start, buf.size() - start, "\r\n\r\n", 4) != nullptr;
}

request_line_start scan_request_line(std::string_view buf) noexcept {
    request_line_start out;
    size_t i = 0;
    while (i + 1 < buf.size() && buf[i] == '\r' && buf[i + 1] == '\n') {
        i += 2; // RFC 9112 §2.2: empty lines before a request line
    }
    const size_t method_start = i;
    while (i < buf.size() && chars::tchar[static_cast<unsigned char>(buf[i])]) {
        ++i;
    }
    if (i == method_start || i >= buf.size() || buf[i] != ' ') {
        return out; // not a request line (a TLS hello on a plaintext port, binary junk)
    }
    out.method = buf.substr(method_start, i - method_start);
    const size_t target_start = ++i;
    while (i < buf.size() && buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n') {
        ++i;
    }
    out.target = buf.substr(target_start, i - target_start);
    if (buf.substr(i).starts_with(" HTTP/1.0")) {
        out.version_minor = 0;
    }
    return out;
}

} // namespace ringbolt::http
