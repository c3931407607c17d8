// Owns: the latency histogram of ringbolt-load, a fixed-memory log-linear histogram
// of microsecond values (exact below 128 us, then 64 linear sub-buckets per power of
// two, so any recorded value is known to within 1/64 = 1.6%).
//
// Why log-linear and not a sorted sample: a 10 s run at 200k req/s is 2M values per
// thread, and the tail (p99.9, max) is what matters; a fixed array of counters keeps
// recording O(1), merging across threads trivial and memory bounded (~19 KiB).
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace ringbolt_load {

class histogram {
  public:
    // Values below 2^exact_bits are their own bucket; above, each power of two
    // [2^k, 2^(k+1)) is split into 2^(exact_bits-1) equal sub-buckets.
    static constexpr int exact_bits = 7;
    static constexpr uint64_t exact_limit = uint64_t{1} << exact_bits; // 128
    static constexpr uint64_t sub_buckets = exact_limit / 2;           // 64
    // Largest value kept apart from the clamp: 2^40 us is about 12.7 days.
    static constexpr int max_bits = 40;
    static constexpr uint64_t max_value = (uint64_t{1} << max_bits) - 1;
    static constexpr size_t bucket_count = exact_limit + (max_bits - exact_bits) * sub_buckets;

    void record(uint64_t value_us) noexcept {
        if (value_us > max_value) {
            value_us = max_value; // clamped into the top bucket; max_ stays exact below
        }
        ++_counts[index_of(value_us)];
        ++_total;
        _sum += static_cast<double>(value_us);
        _sum_sq += static_cast<double>(value_us) * static_cast<double>(value_us);
        if (value_us > _max) {
            _max = value_us;
        }
        if (value_us < _min) {
            _min = value_us;
        }
    }

    void merge(const histogram& other) noexcept {
        for (size_t i = 0; i < bucket_count; ++i) {
            _counts[i] += other._counts[i];
        }
        _total += other._total;
        _sum += other._sum;
        _sum_sq += other._sum_sq;
        if (other._max > _max) {
            _max = other._max;
        }
        if (other._min < _min) {
            _min = other._min;
        }
    }

    void reset() noexcept { *this = histogram{}; }

    uint64_t count() const noexcept { return _total; }
    uint64_t max() const noexcept { return _total == 0 ? 0 : _max; }
    uint64_t min() const noexcept { return _total == 0 ? 0 : _min; }
    double mean() const noexcept { return _total == 0 ? 0.0 : _sum / static_cast<double>(_total); }
    double stdev() const noexcept {
        if (_total < 2) {
            return 0.0;
        }
        double m = mean();
        double var = _sum_sq / static_cast<double>(_total) - m * m;
        return var > 0 ? std::sqrt(var) : 0.0;
    }

    // The value at quantile q (0..1): the highest value of the bucket holding the
    // ceil(q*n)-th smallest sample, capped by the exact max (so p100 == max and a
    // percentile is never reported lower than the samples it stands for).
    uint64_t percentile(double q) const noexcept {
        if (_total == 0) {
            return 0;
        }
        uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(_total)));
        if (rank < 1) {
            rank = 1;
        }
        uint64_t seen = 0;
        for (size_t i = 0; i < bucket_count; ++i) {
            seen += _counts[i];
            if (seen >= rank) {
                uint64_t hi = highest_of(i);
                return hi < _max ? hi : _max;
            }
        }
        return _max;
    }

    // Bucket access for printing the distribution.
    uint64_t bucket(size_t i) const noexcept { return _counts[i]; }
    static uint64_t lowest_of(size_t i) noexcept {
        if (i < exact_limit) {
            return i;
        }
        size_t rel = i - exact_limit;
        int shift = static_cast<int>(rel / sub_buckets) + 1;
        uint64_t mantissa = sub_buckets + rel % sub_buckets;
        return mantissa << shift;
    }
    static uint64_t highest_of(size_t i) noexcept {
        if (i < exact_limit) {
            return i;
        }
        size_t rel = i - exact_limit;
        int shift = static_cast<int>(rel / sub_buckets) + 1;
        return lowest_of(i) + (uint64_t{1} << shift) - 1;
    }
    static size_t index_of(uint64_t v) noexcept {
        if (v < exact_limit) {
            return static_cast<size_t>(v);
        }
        // bit_width(v) >= 8 here; keep the top (exact_bits - 1) bits below the leading 1
        int shift = std::bit_width(v) - exact_bits;
        uint64_t mantissa = v >> shift; // in [64, 127]
        return exact_limit + static_cast<size_t>(shift - 1) * sub_buckets + static_cast<size_t>(mantissa - sub_buckets);
    }

  private:
    std::array<uint64_t, bucket_count> _counts{};
    uint64_t _total = 0;
    uint64_t _max = 0;
    uint64_t _min = UINT64_MAX;
    double _sum = 0;
    double _sum_sq = 0;
};

} // namespace ringbolt_load
