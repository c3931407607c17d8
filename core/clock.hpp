// Monotonic clocks used across the tree: nanoseconds for latency, whole seconds for
// deadlines (never 0: 0 means "no deadline").
#pragma once

#include <cstdint>
#include <ctime>

namespace ringbolt::core {

inline uint64_t monotonic_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

/// A reading of the whole-second clock: the second (plus one: never 0) and the
/// milliseconds until the next one begins, rounded up.
struct second_reading {
    uint32_t second;
    unsigned ms_left;
};

/// CLOCK_MONOTONIC by default: the exact clock. CLOCK_MONOTONIC_COARSE is cheaper (no
/// TSC read) but lags by up to a scheduler tick, so a deadline armed just after a second
/// began could count from the second before and fire a few milliseconds early.
inline second_reading read_seconds(clockid_t clock = CLOCK_MONOTONIC) noexcept {
    timespec ts;
    clock_gettime(clock, &ts);
    // (tv_nsec is below 10^9: 32-bit unsigned arithmetic, a multiply for the division)
    return {static_cast<uint32_t>(ts.tv_sec) + 1,
            (1'000'000'000u - static_cast<uint32_t>(ts.tv_nsec)) / 1'000'000u + 1};
}

/// Whole monotonic seconds, plus one (the exact clock: read_seconds).
inline uint32_t monotonic_seconds() noexcept {
    return read_seconds().second;
}

/// Deadlines on the whole-second clock: one armed during second `s` as `s + n` has
/// passed once the clock reads a later second than it, i.e. at least n seconds after any
/// moment of second s and at most n + 1 after it (a timeout fires at or after its
/// setting, never before). The reactor's sweep runs as each second begins.
inline bool deadline_passed(uint32_t now_s, uint32_t deadline) noexcept {
    return now_s > deadline;
}

} // namespace ringbolt::core
