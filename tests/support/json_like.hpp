// JSON-like text for compression tests and benchmarks: an array of small records with
// random ids and scores, as an API would send, cut to an exact size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace ringbolt::test_data {

/// `size` bytes of records from a generator seeded with `seed` (the same text each run).
inline std::string json_like(size_t size, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s = "[";
    for (int i = 0; s.size() < size; ++i) {
        s += "{\"id\":" + std::to_string(rng() % 100000) + ",\"name\":\"user" + std::to_string(i) +
             "\",\"active\":" + (rng() % 2 ? "true" : "false") + ",\"score\":" + std::to_string(rng() % 1000) +
             ".5,\"tags\":[\"alpha\",\"beta\"]},";
    }
    s.resize(size);
    return s;
}

} // namespace ringbolt::test_data
