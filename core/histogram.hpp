// A fixed-bucket latency histogram (Prometheus buckets), single writer per core like
// the counters, merged by the reader when metrics are rendered.
#pragma once

#include "core/counters.hpp"

#include <array>
#include <cstdint>

namespace ringbolt::core {

/// Upper bounds in microseconds of the finite buckets.
inline constexpr std::array<uint64_t, 14> latency_bucket_us = {100,   250,   500,    1000,   2500,   5000,    10000,
                                                               25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

struct latency_histogram {
    std::array<counter, latency_bucket_us.size() + 1> buckets; ///< last one: +Inf
    counter sum_ns;
    counter count;

    void record(uint64_t ns) noexcept {
        uint64_t us = ns / 1000;
        size_t i = 0;
        while (i < latency_bucket_us.size() && us > latency_bucket_us[i]) {
            ++i;
        }
        buckets[i].add();
        sum_ns.add(ns);
        count.add();
    }
};

} // namespace ringbolt::core
