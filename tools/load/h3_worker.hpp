// Owns: what one ringbolt-h3-load thread is given (its connections, its share of -n) and
// how it runs them: an epoll loop over the connections' UDP sockets and ngtcp2's timers.
// It hands back the same thread_stats as ringbolt-load. The protocol is h3_connection.
#pragma once

#include "h3_connection.hpp"
#include "h3_options.hpp"
#include "http_stats.hpp"
#include "load_run.hpp"

#include <cstdint>

namespace ringbolt_load {

// Read-only run parameters shared by all threads, plus the window and stop flag.
struct h3_plan : run_window {
    const h3_options* opts = nullptr;
    h3_request request;
};

// Runs one thread's connections [first_conn, first_conn + conn_count) until the plan ends, stop is set, or its share of
// -n (0 = unlimited) has been answered or has failed.
void run_h3_worker(h3_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count,
                   uint64_t request_share, thread_stats* out);

} // namespace ringbolt_load
