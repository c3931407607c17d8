// Owns: what an HTTP load thread hands back (responses, bytes, errors, status codes,
// the latency histogram) and how threads' counts merge. Shared by ringbolt-load (HTTP/1.1)
// and ringbolt-h3-load (HTTP/3), so both print the same report.
#pragma once

#include "load_run.hpp"

#include <array>
#include <cstdint>

namespace ringbolt_load {

struct error_counts : io_errors {
    uint64_t parse = 0; // a response the parser refused, or one to nothing we sent
    uint64_t total() const noexcept { return io_errors::total() + parse; }

    void merge(const error_counts& o) {
        io_errors::merge(o);
        parse += o.parse;
    }
};

struct thread_stats : run_counts {
    uint64_t responses = 0; // measured responses (any status)
    error_counts errors;
    std::array<uint64_t, 1000> status{};

    void merge(const thread_stats& s) {
        run_counts::merge(s);
        responses += s.responses;
        errors.merge(s.errors);
        for (size_t i = 0; i < status.size(); ++i) {
            status[i] += s.status[i];
        }
    }
};

} // namespace ringbolt_load
