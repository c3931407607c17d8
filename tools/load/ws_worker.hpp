// Owns: what one ringbolt-ws-load thread is given (its connections, its share of -n)
// and what it hands back (echo counts, errors, latency histogram). The io_uring loop
// itself lives in ws_worker.cpp.
#pragma once

#include "histogram.hpp"
#include "load_clock.hpp"
#include "ws_options.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace ringbolt_load {

struct ws_error_counts {
    uint64_t connect = 0;   // TCP connect failed or timed out
    uint64_t handshake = 0; // no valid 101 answer (status, Sec-WebSocket-Accept, headers, timeout)
    uint64_t read = 0;      // reset, EOF or a server close while echoes were outstanding
    uint64_t write = 0;
    uint64_t timeout = 0;  // an echo later than --timeout
    uint64_t protocol = 0; // a server frame breaking RFC 6455 (masked, RSV bits, bad opcode, ...)
    uint64_t mismatch = 0; // an echo that differs from what was sent (bytes, length or opcode)
    uint64_t total() const noexcept { return connect + handshake + read + write + timeout + protocol + mismatch; }
};

struct ws_thread_stats {
    uint64_t messages = 0;   // measured echoes that matched byte for byte
    uint64_t bytes = 0;      // bytes received inside the measured window (frames included)
    uint64_t handshakes = 0; // successful opening handshakes
    uint64_t reconnects = 0;
    uint64_t unfinished = 0; // measured messages sent but not echoed at the end
    uint64_t pings = 0;      // server pings answered with a pong
    uint64_t server_closes = 0;
    ws_error_counts errors;
    histogram latency; // microseconds, send to the last byte of the echo
    int64_t last_message_ns = 0;
    bool cannot_connect = false;
    std::string first_error; // the first handshake/protocol failure, for the report
    std::string setup_error;
};

struct ws_run_plan {
    const ws_options* opts = nullptr;
    int64_t start_ns = 0;
    int64_t measure_ns = 0;
    int64_t end_ns = 0;
    std::atomic<bool> stop{false};
};

void run_ws_worker(ws_run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count,
                   uint64_t message_share, ws_thread_stats* out);

} // namespace ringbolt_load
