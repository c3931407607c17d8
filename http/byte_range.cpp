// Range: bytes=... parsing (RFC 9110 §14.1.1 ranges-specifier grammar).
#include "http/byte_range.hpp"

#include "core/strings.hpp"

namespace ringbolt::http {

// Positions are 1*DIGIT, read by core::parse_digits up to 19 digits: one past 2^64 is
// malformed, not wrapped.
byte_range parse_byte_range(std::string_view value, uint64_t size) noexcept {
    byte_range out;
    value = core::trim_ows(value);
    // range-unit "=" range-set; units are case-insensitive (§14.1).
    if (!core::istarts_with(value, "bytes=")) {
        return out; // another unit or malformed: ignored
    }
    std::string_view set = value.substr(6);
    int members = 0;
    int satisfiable = 0;
    uint64_t first = 0;
    uint64_t last = 0;
    while (true) {
        size_t comma = set.find(',');
        std::string_view spec = core::trim_ows(set.substr(0, comma));
        if (!spec.empty()) { // §5.6.1: empty list elements are allowed and ignored
            size_t dash = spec.find('-');
            if (dash == std::string_view::npos) {
                return {};
            }
            std::string_view a = spec.substr(0, dash);
            std::string_view b = spec.substr(dash + 1);
            uint64_t lo = 0;
            uint64_t hi = 0;
            bool ok = false;
            if (a.empty()) {
                // suffix-range: the last N bytes; N = 0 is unsatisfiable (§14.1.3).
                uint64_t n = 0;
                if (!core::parse_digits(b, 19, n)) {
                    return {};
                }
                if (n > 0 && size > 0) {
                    lo = n >= size ? 0 : size - n;
                    hi = size - 1;
                    ok = true;
                }
            } else {
                if (!core::parse_digits(a, 19, lo)) {
                    return {};
                }
                if (b.empty()) {
                    hi = size == 0 ? 0 : size - 1;
                } else {
                    if (!core::parse_digits(b, 19, hi) || hi < lo) {
                        return {}; // last < first: the whole header is invalid (§14.1.1)
                    }
                    if (size > 0 && hi >= size) {
                        hi = size - 1;
                    }
                }
                ok = lo < size;
            }
            ++members;
            if (ok) {
                ++satisfiable;
                first = lo;
                last = hi;
            }
        }
        if (comma == std::string_view::npos) {
            break;
        }
        set = set.substr(comma + 1);
    }
    if (members == 0) {
        return {}; // "bytes=" or "bytes=," : no range-spec, malformed
    }
    if (satisfiable == 0) {
        out.kind = range_kind::unsatisfiable;
        return out;
    }
    if (members > 1) {
        out.kind = range_kind::multiple;
        return out;
    }
    out.kind = range_kind::single;
    out.first = first;
    out.length = last - first + 1;
    return out;
}

} // namespace ringbolt::http
