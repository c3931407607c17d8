// Owns: what an HTTP load thread hands back (responses, bytes, errors, status codes,
// the latency histogram) and how threads' counts merge. Shared by ringbolt-load (HTTP/1.1)
// and ringbolt-h3-load (HTTP/3), so both print the same report.
#pragma once

#include "load_run.hpp"

#include <array>
#include <cstdint>

namespace ringbolt_load {

struct error_counts {
    uint64_t connect = 0;
    uint64_t read = 0; // reset / closed with requests outstanding
    uint64_t write = 0;
    uint64_t timeout = 0;
    uint64_t parse = 0;
    uint64_t total() const noexcept { return connect + read + write + timeout + parse; }
};

struct thread_stats : run_counts {
    uint64_t responses = 0; // measured responses (any status)
    error_counts errors;
    std::array<uint64_t, 1000> status{};

    void merge(const thread_stats& s) {
        run_counts::merge(s);
        responses += s.responses;
        errors.connect += s.errors.connect;
        errors.read += s.errors.read;
        errors.write += s.errors.write;
        errors.timeout += s.errors.timeout;
        errors.parse += s.errors.parse;
        for (size_t i = 0; i < status.size(); ++i) {
            status[i] += s.status[i];
        }
    }
};

} // namespace ringbolt_load
