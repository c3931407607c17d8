// Owns: one ringbolt-ws-load --http2/--http3 thread: its connections, each carrying
// --streams WebSockets on streams of one HTTP/2 or HTTP/3 connection (RFC 8441, RFC 9220),
// run by an epoll loop. It hands back the same ws_thread_stats as the HTTP/1.1 worker.
#pragma once

#include "ws_worker.hpp"

#include <cstdint>

namespace ringbolt_load {

void run_ws_mux_worker(ws_run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count,
                       uint64_t message_share, ws_thread_stats* out);

} // namespace ringbolt_load
