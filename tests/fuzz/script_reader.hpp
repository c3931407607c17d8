// The fuzz input read as a script (the connection targets h2_, h3_ and ws_connection_fuzz,
// the QUIC ones quic_endpoint_fuzz and reactor_quic_fuzz): operation bytes and operands
// taken from the front, zeros once the input is used up, so every input is a valid script.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
    /// Whether `k` more bytes are left.
    bool has(size_t k) const { return n >= k; }
    /// The next two bytes, big-endian (0 past the end).
    uint16_t u16() {
        uint8_t hi = byte();
        return static_cast<uint16_t>(hi << 8 | byte());
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

/// A target's invariant: when it does not hold, say which (`target`: the target's name)
/// and abort(), so libFuzzer keeps the input.
inline void invariant(const char* target, bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "%s: invariant violated: %s\n", target, what);
        std::abort();
    }
}

} // namespace ringbolt::fuzz
