// Byte classes of the HTTP grammar as 256-entry tables, shared by the parser, the
// chunked decoder and the response writer so that there is one definition of a token.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringbolt::http::chars {

using char_table = std::array<bool, 256>;

template <typename Pred> constexpr char_table make_table(Pred pred) {
    char_table t{};
    for (int c = 0; c < 256; ++c) {
        t[static_cast<size_t>(c)] = pred(static_cast<unsigned char>(c));
    }
    return t;
}

constexpr bool is_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}
constexpr bool is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr bool in_set(unsigned char c, const char* set) {
    for (; *set != '\0'; ++set) {
        if (static_cast<unsigned char>(*set) == c) {
            return true;
        }
    }
    return false;
}

/// A hex digit's value, or -1 (both cases: RFC 3986 §2.1, RFC 9112 §7.1 HEXDIG).
inline constexpr std::array<int8_t, 256> hex_values = [] {
    std::array<int8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const int lower = c | 0x20;
        t[static_cast<size_t>(c)] = static_cast<int8_t>(is_digit(static_cast<unsigned char>(c)) ? c - '0'
                                                        : lower >= 'a' && lower <= 'f'          ? lower - 'a' + 10
                                                                                                : -1);
    }
    return t;
}();

/// -1 when `c` is not a hex digit.
constexpr int hex_value(unsigned char c) noexcept {
    return hex_values[c];
}

/// Lower-case hex digits, for escapes written out (JSON \u00XX, the access log's \xXX).
inline constexpr char hex_digits[] = "0123456789abcdef";

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
// (RFC 9110 §5.6.2)
inline constexpr char_table tchar =
    make_table([](unsigned char c) { return is_alpha(c) || is_digit(c) || in_set(c, "!#$%&'*+-.^_`|~"); });

// request-target bytes: any VCHAR (RFC 9112 §3.2); SP, CTLs, DEL and bytes >= 0x80 end or reject it.
inline constexpr char_table target = make_table([](unsigned char c) { return c > 0x20 && c < 0x7f; });

// field-vchar / SP / HTAB / obs-text (RFC 9110 §5.5); also a quoted-pair's payload.
inline constexpr char_table field_value =
    make_table([](unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); });

// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4)
inline constexpr char_table qdtext = make_table([](unsigned char c) {
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c != 0x7f);
});

// reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986 §3.2.2); '%' checked separately.
inline constexpr char_table regname =
    make_table([](unsigned char c) { return is_alpha(c) || is_digit(c) || in_set(c, "-._~!$&'()*+,;=%"); });

} // namespace ringbolt::http::chars
