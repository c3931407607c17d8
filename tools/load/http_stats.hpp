// Owns: what an HTTP load thread hands back (responses, bytes, errors, status codes,
// the latency histogram) and how threads' counts merge. Shared by ringbolt-load (HTTP/1.1)
// and ringbolt-h3-load (HTTP/3), so both print the same report.
#pragma once

#include "histogram.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

namespace ringbolt_load {

struct error_counts {
    uint64_t connect = 0;
    uint64_t read = 0; // reset / closed with requests outstanding
    uint64_t write = 0;
    uint64_t timeout = 0;
    uint64_t parse = 0;
    uint64_t total() const noexcept { return connect + read + write + timeout + parse; }
};

struct thread_stats {
    uint64_t responses = 0;  // measured responses (any status)
    uint64_t bytes = 0;      // bytes received inside the measured window
    uint64_t reconnects = 0; // connections re-opened after a close (server's or ours)
    uint64_t unfinished = 0; // measured requests due but without a response at the end
    error_counts errors;
    std::array<uint64_t, 1000> status{};
    histogram latency; // microseconds
    int64_t last_response_ns = 0;
    bool cannot_connect = false;
    std::string first_error; // why the first connection failed (ringbolt-h3-load), for the report
    std::string setup_error;

    void merge(const thread_stats& s) {
        responses += s.responses;
        bytes += s.bytes;
        reconnects += s.reconnects;
        unfinished += s.unfinished;
        errors.connect += s.errors.connect;
        errors.read += s.errors.read;
        errors.write += s.errors.write;
        errors.timeout += s.errors.timeout;
        errors.parse += s.errors.parse;
        for (size_t i = 0; i < status.size(); ++i) {
            status[i] += s.status[i];
        }
        latency.merge(s.latency);
        last_response_ns = std::max(last_response_ns, s.last_response_ns);
        cannot_connect = cannot_connect || s.cannot_connect;
        if (first_error.empty()) {
            first_error = s.first_error;
        }
    }
};

} // namespace ringbolt_load
