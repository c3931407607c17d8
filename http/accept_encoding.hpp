// Accept-Encoding (RFC 9110 §12.5.3): which content codings a client takes and how much
// it prefers each (q-values, "*", "identity"). A pure function over the field value:
// used by the static file server to pick a precompressed sibling (.zst, .br, .gz).
#pragma once

#include <cstdint>
#include <string_view>

namespace ringbolt::http {

/// The codings ringbolt can produce or serve, in the server's order of preference.
enum class content_coding : uint8_t { zstd = 0, br = 1, gzip = 2, identity = 3 };
inline constexpr int num_content_codings = 4;

/// The file suffix and the Content-Encoding token of a coding ("" for identity).
constexpr std::string_view coding_suffix(content_coding c) noexcept {
    constexpr std::string_view s[] = {".zst", ".br", ".gz", ""};
    return s[static_cast<int>(c)];
}
constexpr std::string_view coding_token(content_coding c) noexcept {
    constexpr std::string_view s[] = {"zstd", "br", "gzip", "identity"};
    return s[static_cast<int>(c)];
}

/// What one Accept-Encoding field value says: a weight 0..1000 per coding (q=0.5 is
/// 500). Codings not named take the "*" weight when "*" is listed; identity is
/// acceptable unless excluded ("identity;q=0" or "*;q=0" without identity).
struct accepted_codings {
    uint16_t weight[num_content_codings] = {0, 0, 0, 1};
    bool present = false; ///< the field was sent (an absent field: identity only)
};

namespace accept_detail {

constexpr char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}
constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}
/// RFC 9110 §12.4.2 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]. -1 when malformed.
constexpr int parse_qvalue(std::string_view v) noexcept {
    if (v.empty() || (v[0] != '0' && v[0] != '1')) {
        return -1;
    }
    int whole = v[0] - '0';
    if (v.size() == 1) {
        return whole * 1000;
    }
    if (v[1] != '.' || v.size() > 5) {
        return -1;
    }
    int frac = 0;
    int scale = 100;
    for (size_t i = 2; i < v.size(); ++i) {
        if (v[i] < '0' || v[i] > '9') {
            return -1;
        }
        frac += (v[i] - '0') * scale;
        scale /= 10;
    }
    if (whole == 1 && frac != 0) {
        return -1;
    }
    return whole * 1000 + frac;
}

} // namespace accept_detail

/// Parse one Accept-Encoding value (several fields: call once per field with `into`
/// carried over; RFC 9110 §5.3 says they combine as one list). Malformed members (a bad
/// q-value) are skipped, never fatal: the response can always fall back to identity.
constexpr void parse_accept_encoding(std::string_view value, accepted_codings& into) noexcept {
    using namespace accept_detail;
    into.present = true;
    int named[num_content_codings] = {-1, -1, -1, -1};
    int star = -1;
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view member = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        size_t semi = member.find(';');
        std::string_view name = trim(member.substr(0, semi));
        if (name.empty()) {
            continue;
        }
        int q = 1000;
        std::string_view params = semi == std::string_view::npos ? std::string_view() : member.substr(semi + 1);
        while (semi != std::string_view::npos) {
            semi = params.find(';');
            std::string_view param = trim(params.substr(0, semi));
            params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
            if (param.size() >= 2 && lower(param[0]) == 'q' && trim(param.substr(1)).starts_with('=')) {
                q = parse_qvalue(trim(trim(param.substr(1)).substr(1)));
            }
        }
        if (q < 0) {
            continue; // malformed weight: ignore the member
        }
        if (name == "*") {
            star = q > star ? q : star;
            continue;
        }
        int idx = -1;
        if (iequals(name, "zstd")) {
            idx = 0;
        } else if (iequals(name, "br")) {
            idx = 1;
        } else if (iequals(name, "gzip") || iequals(name, "x-gzip")) {
            idx = 2;
        } else if (iequals(name, "identity")) {
            idx = 3;
        }
        if (idx >= 0) {
            named[idx] = q > named[idx] ? q : named[idx];
        }
    }
    for (int i = 0; i < num_content_codings; ++i) {
        if (named[i] >= 0) {
            into.weight[i] = static_cast<uint16_t>(named[i]);
        } else if (star >= 0) {
            into.weight[i] = static_cast<uint16_t>(star); // "*" covers codings not named (identity too)
        }
    }
}

constexpr accepted_codings parse_accept_encoding(std::string_view value) noexcept {
    accepted_codings a;
    parse_accept_encoding(value, a);
    return a;
}

/// The coding to answer with among `available` (bit i: coding i can be served; identity
/// is bit 3): the highest weight, ties broken by the server's order (zstd, br, gzip,
/// identity). identity when nothing else is acceptable, even if the client excluded it
/// (the caller may answer 406 instead; the static server sends identity).
constexpr content_coding choose_coding(const accepted_codings& a, unsigned available) noexcept {
    int best = 3;
    int best_w = 0;
    for (int i = 0; i < num_content_codings; ++i) {
        if ((available & (1u << i)) != 0 && a.weight[i] > best_w) {
            best = i;
            best_w = a.weight[i];
        }
    }
    return static_cast<content_coding>(best);
}

} // namespace ringbolt::http
