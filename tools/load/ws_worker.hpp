// Owns: what one ringbolt-ws-load thread is given (its connections, its share of -n)
// and what it hands back (echo counts, errors, latency histogram). The protocol lives
// in ws_worker.cpp, the io_uring loop in ring_worker.hpp.
#pragma once

#include "load_run.hpp"
#include "ws_options.hpp"

#include <cstdint>

namespace ringbolt_load {

// connect: TCP's; read: also a server close while echoes were outstanding; timeout: an echo's.
struct ws_error_counts : io_errors {
    uint64_t handshake = 0; // no valid 101 answer (status, Sec-WebSocket-Accept, headers, timeout)
    uint64_t protocol = 0;  // a server frame breaking RFC 6455 (masked, RSV bits, bad opcode, ...)
    uint64_t mismatch = 0;  // an echo that differs from what was sent (bytes, length or opcode)
    uint64_t total() const noexcept { return io_errors::total() + handshake + protocol + mismatch; }

    void merge(const ws_error_counts& o) {
        io_errors::merge(o);
        handshake += o.handshake;
        protocol += o.protocol;
        mismatch += o.mismatch;
    }
};

// bytes count frames whole; latency is from the send to the echo's last byte.
struct ws_thread_stats : run_counts {
    uint64_t messages = 0;   // measured echoes that matched byte for byte
    uint64_t handshakes = 0; // successful opening handshakes
    uint64_t pings = 0;      // server pings answered with a pong
    uint64_t server_closes = 0;
    ws_error_counts errors;

    void merge(const ws_thread_stats& s) {
        run_counts::merge(s);
        messages += s.messages;
        handshakes += s.handshakes;
        pings += s.pings;
        server_closes += s.server_closes;
        errors.merge(s.errors);
    }
};

// Read-only run parameters shared by all threads, plus the window and stop flag
// (messages sent from measure_ns on are measured).
struct ws_run_plan : run_window {
    const ws_options* opts = nullptr;
};

void run_ws_worker(ws_run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count,
                   uint64_t message_share, ws_thread_stats* out);

} // namespace ringbolt_load
