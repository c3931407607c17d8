// Owns: what one ringbolt-load thread is given (its connections, its share of -n) and
// what it hands back (counts, bytes, errors, latency histogram). The protocol lives
// in worker.cpp, the io_uring loop in ring_worker.hpp.
#pragma once

#include "http_stats.hpp"
#include "load_run.hpp"
#include "options.hpp"

#include <cstdint>
#include <string>

namespace ringbolt_load {

// Read-only run parameters shared by all threads, plus the window and stop flag
// (requests intended from measure_ns on are measured).
struct run_plan : run_window {
    const options* opts = nullptr;
    std::string request; // one request's bytes
};

// Runs one thread's connections [first_conn, first_conn + conn_count) until the plan
// ends or stop is set; request_share is this thread's part of -n (0 = unlimited).
void run_worker(run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count, uint64_t request_share,
                thread_stats* out);

} // namespace ringbolt_load
