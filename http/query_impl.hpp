// Inline part of http/query.hpp: the query-string splitter template and the small
// decoding helpers it needs. Included at the end of query.hpp; do not include directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ringbolt::http {

namespace detail {

/// Form-decode `in` into `out` (which must have room for in.size() bytes): '+' -> ' ',
/// %XX -> byte, and a malformed escape is copied through as is (urllib's unquote does
/// the same). Returns the decoded length (never more than in.size()).
size_t form_decode_lenient(std::string_view in, char* out) noexcept;

/// True when a query name or value has a '%' or '+' in it.
inline bool form_needs_decoding(std::string_view in) noexcept {
    for (char c : in) {
        if (c == '%' || c == '+') [[unlikely]] {
            return true;
        }
    }
    return false;
}

/// True when `in` has a '%' or '+' anywhere: eight bytes at a time (one pass over the
/// whole query, so the usual query, with neither, asks no pair again), then one by one.
inline bool form_has_escape(std::string_view in) noexcept {
    constexpr uint64_t ones = 0x0101010101010101ull;
    constexpr uint64_t highs = 0x8080808080808080ull;
    const char* p = in.data();
    size_t n = in.size();
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t x;
        std::memcpy(&x, p, 8);
        const uint64_t a = x ^ (ones * '%');
        const uint64_t b = x ^ (ones * '+');
        if ((((a - ones) & ~a) | ((b - ones) & ~b)) & highs) {
            return true; // (exact for the word as a whole: some byte is one of the two)
        }
    }
    return form_needs_decoding({p, n});
}

/// Decoded pieces of one pair live here. Small pairs use the stack; a pair longer than
/// the inline buffer takes one heap buffer for the duration of that pair only. Kept
/// per call (not thread_local) so a callback may itself split another query.
class query_scratch {
  public:
    char* get(size_t n) {
        if (n <= sizeof(_inline)) [[likely]] {
            return _inline;
        }
        _heap.resize(n);
        return _heap.data();
    }

  private:
    char _inline[512];
    std::string _heap;
};

} // namespace detail

template <class Fn> void for_each_query_param(std::string_view query, Fn&& fn) {
    detail::query_scratch scratch;
    const bool escapes = detail::form_has_escape(query);
    const char* p = query.data();
    const char* const end = p + query.size();
    while (p < end) {
        const char* amp = static_cast<const char*>(std::memchr(p, '&', static_cast<size_t>(end - p)));
        const char* pair_end = amp != nullptr ? amp : end;
        const size_t pair_len = static_cast<size_t>(pair_end - p);
        if (pair_len != 0) [[likely]] {
            std::string_view pair(p, pair_len);
            // Python's parse_qsl splits on the first '='; no '=' gives an empty value.
            const size_t eq = pair.find('=');
            std::string_view name = eq == std::string_view::npos ? pair : pair.substr(0, eq);
            std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
            const bool dec_name = escapes && detail::form_needs_decoding(name);
            const bool dec_value = escapes && detail::form_needs_decoding(value);
            if (!dec_name && !dec_value) [[likely]] {
                fn(name, value);
            } else {
                char* buf = scratch.get(pair_len);
                size_t used = 0;
                if (dec_name) {
                    used = detail::form_decode_lenient(name, buf);
                    name = std::string_view(buf, used);
                }
                if (dec_value) {
                    const size_t n = detail::form_decode_lenient(value, buf + used);
                    value = std::string_view(buf + used, n);
                }
                fn(name, value);
            }
        }
        if (amp == nullptr) {
            break;
        }
        p = amp + 1;
    }
}

} // namespace ringbolt::http
