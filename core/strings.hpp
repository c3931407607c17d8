// The small string vocabulary of the HTTP layers: ASCII case folding and compares, the
// optional whitespace (OWS) of RFC 9110 §5.6.3, and comma-separated lists (§5.6.1).
// ASCII only on purpose: field names, tokens and codings are ASCII, and a locale must
// never change how a request is read (strncasecmp would consult one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringbolt::core {

/// `c` lower-cased when it is an ASCII capital; any other byte unchanged.
constexpr char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// `s` lower-cased (ASCII), as a new string.
inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = ascii_lower(c);
    }
    return out;
}

/// a == b, ignoring ASCII case on both sides.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

/// `s` begins with `prefix`, ignoring ASCII case.
constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

/// `s` ends with `suffix`, ignoring ASCII case.
constexpr bool iends_with(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

/// `s` equals `lower`, a lower-case literal, with `s` folded by OR-ing 0x20: one
/// instruction a byte less than iequals, for the parser's path that every request takes.
/// Exact when `lower` holds only lower-case letters, digits and "-./:" and `s` holds no
/// byte below 0x20 (the parser's tokens, targets and field values): then only a capital
/// letter folds onto another byte.
constexpr bool iequals_lower(std::string_view s, std::string_view lower) noexcept {
    if (s.size() != lower.size()) {
        return false;
    }
    for (size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) | 0x20) != static_cast<unsigned char>(lower[i])) {
            return false;
        }
    }
    return true;
}

/// OWS = *( SP / HTAB ) (RFC 9110 §5.6.3).
constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

/// `s` without leading and trailing OWS.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

/// Advances `pos` past OWS in `s`.
constexpr void skip_ows(std::string_view s, size_t& pos) noexcept {
    while (pos < s.size() && is_ows(s[pos])) {
        ++pos;
    }
}

/// Takes the first element of a comma-separated list (RFC 9110 §5.6.1) off `list`,
/// OWS-trimmed; `list` keeps what follows the comma (empty after the last element, so a
/// trailing empty element is never returned). Loop `while (!list.empty())`.
constexpr std::string_view pop_list_element(std::string_view& list) noexcept {
    const size_t comma = list.find(',');
    const std::string_view item = trim_ows(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    return item;
}

/// Calls fn(element) for each OWS-trimmed element of a comma-separated list, empty
/// elements included (the parser rejects some of those); stops early, returning false,
/// when fn returns false.
template <typename Fn> constexpr bool for_each_list_element(std::string_view list, Fn&& fn) {
    for (;;) {
        const size_t comma = list.find(',');
        if (!fn(trim_ows(list.substr(0, comma)))) {
            return false;
        }
        if (comma == std::string_view::npos) {
            return true;
        }
        list.remove_prefix(comma + 1);
    }
}

/// `s` is 1 to `max_digits` ASCII digits (at most 19: no overflow), its value in `out`;
/// false on anything else (a sign, a space, an empty string).
constexpr bool parse_digits(std::string_view s, size_t max_digits, uint64_t& out) noexcept {
    if (s.empty() || s.size() > max_digits || s.size() > 19) {
        return false;
    }
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    out = v;
    return true;
}

/// A comma-separated field value (Connection, Upgrade, ...) lists `token`, ignoring ASCII case.
constexpr bool lists_token(std::string_view list, std::string_view token) noexcept {
    while (!list.empty()) {
        if (iequals(pop_list_element(list), token)) {
            return true;
        }
    }
    return false;
}

} // namespace ringbolt::core
