// Per-core counters: written by one reactor thread only (but for the few written with
// add_shared), read by any thread.
// A single writer needs no atomic read-modify-write: a relaxed load+store suffices
// and compiles to a plain add, while readers still see whole (untorn) values.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringbolt::core {

class counter {
  public:
    void add(uint64_t n = 1) noexcept { _v.store(_v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void sub(uint64_t n = 1) noexcept { _v.store(_v.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
    void set(uint64_t n) noexcept { _v.store(n, std::memory_order_relaxed); }
    /// For the few counters other threads also write (an atomic read-modify-write).
    void add_shared(uint64_t n = 1) noexcept { _v.fetch_add(n, std::memory_order_relaxed); }
    uint64_t get() const noexcept { return _v.load(std::memory_order_relaxed); }

  private:
    std::atomic<uint64_t> _v{0};
};

#define RINGBOLT_CORE_COUNTERS(X)                                                                                      \
    X(connections_open)                                                                                                \
    X(connections_accepted)                                                                                            \
    X(connections_closed)                                                                                              \
    X(requests)                                                                                                        \
    X(bytes_in)                                                                                                        \
    X(bytes_out)                                                                                                       \
    X(responses_1xx)                                                                                                   \
    X(responses_2xx)                                                                                                   \
    X(responses_3xx)                                                                                                   \
    X(responses_4xx)                                                                                                   \
    X(responses_5xx)                                                                                                   \
    X(sqes_submitted)                                                                                                  \
    X(submit_calls)                                                                                                    \
    X(cqes_reaped)                                                                                                     \
    X(enobufs)                                                                                                         \
    X(cq_overflows)                                                                                                    \
    X(cq_entries)                                                                                                      \
    X(cq_grows)                                                                                                        \
    X(recv_buffer_bytes)                                                                                               \
    X(recv_ring_grows)                                                                                                 \
    X(recv_ring_shrinks)                                                                                               \
    X(recv_stalls)                                                                                                     \
    X(recvs_into_body)                                                                                                 \
    X(accept_resumes_on_close)                                                                                         \
    X(loop_stalls)                                                                                                     \
    X(memory_trims)                                                                                                    \
    X(answer_wakes)                                                                                                    \
    X(answer_wakes_skipped)                                                                                            \
    X(timeouts)                                                                                                        \
    X(python_batches)                                                                                                  \
    X(python_requests)                                                                                                 \
    X(gil_wait_ns)                                                                                                     \
    X(app_queue_depth)                                                                                                 \
    X(parse_errors)                                                                                                    \
    X(http1_head_parses)                                                                                               \
    X(websockets_opened)                                                                                               \
    X(websocket_messages_in)                                                                                           \
    X(websocket_messages_out)                                                                                          \
    X(websocket_reads_paused)                                                                                          \
    X(websocket_failures)                                                                                              \
    X(tls_handshakes)                                                                                                  \
    X(tls_resumed)                                                                                                     \
    X(tls_handshake_errors)                                                                                            \
    X(tls_handshake_timeouts)                                                                                          \
    X(tls_record_errors)                                                                                               \
    X(tls_close_notify)                                                                                                \
    X(tls_truncated)                                                                                                   \
    X(tls_sni_unknown)                                                                                                 \
    X(tls_ktls_tx)                                                                                                     \
    X(tls_ktls_key_updates)                                                                                            \
    X(tls_ktls_rx)                                                                                                     \
    X(tls_ktls_rx_key_updates)                                                                                         \
    X(h2_connections)                                                                                                  \
    X(h2_streams)                                                                                                      \
    X(h2_resets_sent)                                                                                                  \
    X(h2_refused_streams)                                                                                              \
    X(h2_goaways_sent)                                                                                                 \
    X(h2_floods)                                                                                                       \
    X(h2_header_overflows)                                                                                             \
    X(h2_connection_errors)                                                                                            \
    X(h2_window_stalls)                                                                                                \
    X(h3_window_stalls)                                                                                                \
    X(h3_streams)                                                                                                      \
    X(h3_refused_streams)                                                                                              \
    X(h3_too_early)                                                                                                    \
    X(h3_floods)                                                                                                       \
    X(h3_connection_errors)                                                                                            \
    X(proxy_headers)                                                                                                   \
    X(proxy_refused)

struct core_counters {
#define RINGBOLT_DECLARE_COUNTER(name) counter name;
    RINGBOLT_CORE_COUNTERS(RINGBOLT_DECLARE_COUNTER)
#undef RINGBOLT_DECLARE_COUNTER

    void count_status(uint16_t status) noexcept {
        switch (status / 100) {
        case 1:
            responses_1xx.add();
            break;
        case 2:
            responses_2xx.add();
            break;
        case 3:
            responses_3xx.add();
            break;
        case 4:
            responses_4xx.add();
            break;
        default:
            responses_5xx.add();
            break;
        }
    }
};

} // namespace ringbolt::core
