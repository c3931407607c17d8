// Owns: what one ringbolt-load thread is given (its connections, its share of -n) and
// what it hands back (counts, bytes, errors, latency histogram). The io_uring loop
// itself lives in worker.cpp.
#pragma once

#include "histogram.hpp"
#include "load_clock.hpp"
#include "options.hpp"

#include <array>
#include <atomic>
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
    std::string setup_error;
};

// Read-only run parameters shared by all threads, plus the stop flag.
struct run_plan {
    const options* opts = nullptr;
    std::string request;    // one request's bytes
    int64_t start_ns = 0;   // CLOCK_MONOTONIC: load (and the rate schedule) begins
    int64_t measure_ns = 0; // start + warm-up: requests intended from here are measured
    int64_t end_ns = 0;     // duration mode: measurement ends (INT64_MAX with -n)
    std::atomic<bool> stop{false};
};

// Runs one thread's connections [first_conn, first_conn + conn_count) until the plan
// ends or stop is set; request_share is this thread's part of -n (0 = unlimited).
void run_worker(run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count, uint64_t request_share,
                thread_stats* out);

} // namespace ringbolt_load
