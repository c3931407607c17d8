// How the fuzz targets of incremental decoders split one input at random: piece sizes
// from a xorshift seeded by the input's mode byte, so a finding replays the same split.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringbolt::fuzz {

/// A callable giving piece sizes from 0 to (mode >> 1) + 1 (0 included: an empty feed
/// must be harmless).
inline auto random_piece_sizes(uint8_t mode) {
    return [seed = 0x9e3779b9u ^ (static_cast<uint32_t>(mode) * 0x01000193u), mode]() mutable {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        return static_cast<size_t>(seed % ((mode >> 1) + 2));
    };
}

} // namespace ringbolt::fuzz
