// Monotonic clocks used across the tree: nanoseconds for latency, coarse seconds for
// deadlines (never 0: 0 means "no deadline").
#pragma once

#include <cstdint>
#include <ctime>

namespace ringbolt {

inline uint64_t monotonic_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

/// Coarse monotonic seconds (CLOCK_MONOTONIC_COARSE, vDSO), plus one.
inline uint32_t monotonic_seconds() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<uint32_t>(ts.tv_sec) + 1;
}

} // namespace ringbolt
