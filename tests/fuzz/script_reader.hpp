// The fuzz input read as a script (the connection targets: h2_connection_fuzz,
// ws_connection_fuzz): operation bytes and operands taken from the front, zeros once
// the input is used up, so every input is a valid script.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringbolt::fuzz {

struct script_reader {
    const uint8_t* p;
    size_t n; ///< bytes left
    /// The next byte (0 past the end).
    uint8_t byte() {
        if (n == 0) {
            return 0;
        }
        --n;
        return *p++;
    }
    /// Up to `want` bytes (fewer at the end).
    std::string_view bytes(size_t want) {
        size_t k = want < n ? want : n;
        std::string_view v(reinterpret_cast<const char*>(p), k);
        p += k;
        n -= k;
        return v;
    }
};

} // namespace ringbolt::fuzz
