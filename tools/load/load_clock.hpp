// Owns: the clock of both load generators' threads and entry points: core/clock.hpp's
// CLOCK_MONOTONIC in nanoseconds, made signed because schedules and latencies subtract.
#pragma once

#include "core/clock.hpp"

#include <cstdint>

namespace ringbolt_load {

inline int64_t monotonic_ns() noexcept {
    return static_cast<int64_t>(ringbolt::core::monotonic_ns());
}

} // namespace ringbolt_load
