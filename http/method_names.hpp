// The names of the method bits (http/parser.hpp): the one table the parser classifies
// with, Allow headers and messages print from, and the Python module interns.
#pragma once

#include "http/parser.hpp"

#include <string>
#include <string_view>
#include <utility>

namespace ringbolt::http {

/// Indexed by the bit position of a method_bit value (method_other has no name).
inline constexpr std::string_view method_bit_names[] = {"GET",   "HEAD",    "POST",    "PUT",  "DELETE",
                                                        "PATCH", "OPTIONS", "CONNECT", "TRACE"};
static_assert(std::size(method_bit_names) == 9 && method_other == 1u << 9 && method_get == 1u << 0 &&
                  method_connect == 1u << 7 && method_trace == 1u << 8,
              "method_bit_names follows the method_bit enum");

/// The method_bit of a method token: one of the names above, else method_other. The
/// compares are unrolled with each name's length known (GET first: one length check and
/// one 3-byte compare in the common case), as fast as a hand-written switch.
template <size_t... I> uint16_t method_bit_of(std::string_view m, std::index_sequence<I...>) noexcept {
    uint16_t bit = method_other;
    static_cast<void>(((m == method_bit_names[I] ? (bit = static_cast<uint16_t>(1u << I), true) : false) || ...));
    return bit;
}
inline uint16_t method_bit_of(std::string_view m) noexcept {
    return method_bit_of(m, std::make_index_sequence<std::size(method_bit_names)>{});
}

/// Append "GET, HEAD, ..." for the bits set in `mask` (RFC 9110 §10.2.1 Allow).
inline void append_method_names(std::string& out, uint16_t mask) {
    bool first = true;
    for (size_t i = 0; i < std::size(method_bit_names); ++i) {
        if (mask & (1u << i)) {
            if (!first) {
                out.append(", ");
            }
            out.append(method_bit_names[i]);
            first = false;
        }
    }
}

} // namespace ringbolt::http
