// A reactor's HTTP/3 tallies for the metrics text: its QUIC endpoint's (quic::endpoint_stats)
// and its UDP socket's (uring::datagram_stats, quic::send_pool), copied from those plain
// counters before each wait (reactor_quic.cpp) so another thread may read them. All count
// up but quic_half_open, a gauge (the connections in their handshake now).
#pragma once

#include "core/counters.hpp"

namespace ringbolt::server {

#define RINGBOLT_QUIC_COUNTERS(X)                                                                                      \
    X(quic_packets)                                                                                                    \
    X(quic_dropped)                                                                                                    \
    X(quic_connections_accepted)                                                                                       \
    X(quic_connections_refused)                                                                                        \
    X(quic_connections_closed)                                                                                         \
    X(quic_idle_closed)                                                                                                \
    X(quic_errors)                                                                                                     \
    X(quic_version_negotiations)                                                                                       \
    X(quic_stateless_resets)                                                                                           \
    X(quic_replies_limited)                                                                                            \
    X(quic_retries)                                                                                                    \
    X(quic_half_open_retries)                                                                                          \
    X(quic_half_open)                                                                                                  \
    X(quic_bad_tokens)                                                                                                 \
    X(quic_tickets)                                                                                                    \
    X(quic_resumed)                                                                                                    \
    X(quic_early_data)                                                                                                 \
    X(quic_early_overflows)                                                                                            \
    X(udp_received)                                                                                                    \
    X(udp_gro_batches)                                                                                                 \
    X(udp_truncated)                                                                                                   \
    X(udp_sent)                                                                                                        \
    X(udp_send_messages)                                                                                               \
    X(udp_gso_messages)                                                                                                \
    X(udp_send_errors)                                                                                                 \
    X(udp_send_dropped)

struct quic_counters {
#define RINGBOLT_DECLARE_QUIC_COUNTER(name) core::counter name;
    RINGBOLT_QUIC_COUNTERS(RINGBOLT_DECLARE_QUIC_COUNTER)
#undef RINGBOLT_DECLARE_QUIC_COUNTER
};

} // namespace ringbolt::server
