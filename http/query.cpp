// Percent-decoding for paths and query strings: the strict decoder used by the router
// (a bad escape is an error) and the lenient form decoder used for query pairs
// (a bad escape passes through, as urllib.parse.unquote does).
#include "http/query.hpp"

#include "http/char_classes.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace ringbolt::http {

namespace {

// The hex digits of a percent-encoding are case-insensitive (RFC 3986 §2.1).
inline int hex_at(const char* p) noexcept {
    return chars::hex_value(static_cast<unsigned char>(*p));
}

} // namespace

bool percent_decode(std::string_view in, std::string& out, bool plus_as_space) noexcept {
    const size_t old = out.size();
    out.resize(old + in.size()); // decoded output is never longer than the input
    char* d = out.data() + old;
    const char* p = in.data();
    const char* const end = p + in.size();
    while (p < end) {
        const char c = *p;
        if (c == '%') [[unlikely]] {
            if (end - p < 3) {
                out.resize(static_cast<size_t>(d - out.data()));
                return false;
            }
            const int hi = hex_at(p + 1);
            const int lo = hex_at(p + 2);
            if ((hi | lo) < 0) {
                out.resize(static_cast<size_t>(d - out.data()));
                return false;
            }
            *d++ = static_cast<char>((hi << 4) | lo);
            p += 3;
        } else if (c == '+' && plus_as_space) {
            *d++ = ' ';
            ++p;
        } else {
            *d++ = c;
            ++p;
        }
    }
    out.resize(static_cast<size_t>(d - out.data()));
    return true;
}

bool needs_decoding(std::string_view in, bool plus_as_space) noexcept {
    if (!plus_as_space) {
        if (in.empty()) {
            return false; // memchr must not see the null data() of an empty view
        }
        return std::memchr(in.data(), '%', in.size()) != nullptr;
    }
    return detail::form_needs_decoding(in);
}

namespace detail {

size_t form_decode_lenient(std::string_view in, char* out) noexcept {
    char* d = out;
    const char* p = in.data();
    const char* const end = p + in.size();
    while (p < end) {
        const char c = *p;
        if (c == '%' && end - p >= 3) {
            const int hi = hex_at(p + 1);
            const int lo = hex_at(p + 2);
            if ((hi | lo) >= 0) [[likely]] {
                *d++ = static_cast<char>((hi << 4) | lo);
                p += 3;
                continue;
            }
        }
        *d++ = c == '+' ? ' ' : c;
        ++p;
    }
    return static_cast<size_t>(d - out);
}

} // namespace detail

} // namespace ringbolt::http
