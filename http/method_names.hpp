// Names of the method bits (http/parser.hpp), for Allow headers and messages.
#pragma once

#include "http/parser.hpp"

#include <string>
#include <string_view>

namespace ringbolt::http {

/// Indexed by the bit position of a method_bit value.
inline constexpr std::string_view method_bit_names[] = {"GET",   "HEAD",    "POST",    "PUT",  "DELETE",
                                                        "PATCH", "OPTIONS", "CONNECT", "TRACE"};

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
