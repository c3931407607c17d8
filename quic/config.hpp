// What a QUIC endpoint is told: transport parameters offered to every client (names as a
// uvicorn-style command line would spell them later: --h3-max-streams, ...), the limits
// that protect the server, and the endpoint's identity in the connection-ID space.
#pragma once

#include "core/small_blocks.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringbolt::quic {

/// The congestion controller of each connection (--http3-cc): ngtcp2's. CUBIC is TCP's
/// default on Linux, so a QUIC transfer shares a bottleneck with TCP ones as an equal;
/// BBR paces at the path's measured bandwidth and loses less throughput to random loss;
/// Reno is the RFC 9002 reference.
enum class congestion_control : uint8_t { reno, cubic, bbr };

/// Its name on the command line (--http3-cc) and in the start-up line.
constexpr const char* congestion_name(congestion_control c) noexcept {
    return c == congestion_control::bbr ? "bbr" : c == congestion_control::reno ? "reno" : "cubic";
}

struct transport_config {
    uint64_t max_streams_bidi = 100; ///< concurrent request streams a client may open
    /// HTTP/3 needs 3 (control, QPACK encoder, decoder); RFC 9114 §6.2 lets a client open
    /// more (extensions, reserved types to be ignored, §6.2.3). With exactly 3 a fourth
    /// never opened: a client's second control stream waited for MAX_STREAMS, unseen, and
    /// its error was never answered. One that closes is given back.
    uint64_t max_streams_uni = 16;
    uint64_t idle_timeout_ms = 30'000; ///< silent connections close after this
    /// A handshake whose client has not answered us (acknowledged none of our packets: its
    /// address may be spoofed, as an Initial flood's are) ends after this.
    uint64_t handshake_timeout_ms = 10'000;
    /// A handshake whose client has acknowledged a packet of ours (its address is its own)
    /// may take this long; one that falls silent ends sooner, at the idle timeout. On a
    /// lossy path its flights are lost and sent again with growing backoff: with 30% loss
    /// about one handshake in 1,000 outlasted 10 s (the interop matrix's handshakeloss
    /// case), and one in CI's 2026-11-29 rehearsal outlasted 30 s.
    uint64_t answered_handshake_timeout_ms = 120'000;
    /// Flow-control window of each stream, fixed: not auto-tuned (connection.cpp says why).
    uint64_t stream_window = 256 * 1024;
    uint64_t connection_window = 1 << 20; ///< initial flow-control window of a connection
    /// Auto-tuning may grow the connection's window to this: the most bytes in flight on a
    /// connection. (The connection window is credited as bytes arrive: what a client can
    /// make the server hold unread is bounded by max_streams_bidi x stream_window.)
    uint64_t max_buffered_bytes = 4 << 20;
    /// The most stream bytes sent and not yet acknowledged on a connection: past it the
    /// transport takes no more output from the protocol until acknowledgements come.
    uint64_t max_unacked_bytes = 4 << 20;
    uint64_t drain_timeout_ms = 30'000; ///< a draining connection closes at the latest after this
    congestion_control congestion = congestion_control::cubic;
    /// Where ngtcp2's blocks come from (the reactor's, core/small_blocks.hpp; null: malloc).
    /// It outlives every connection.
    core::block_pool* blocks = nullptr;
};

/// What one connection holds while its handshake is in progress (its first Initial
/// answered, the client's Finished not yet in), counted per half-open connection. Measured
/// on ngtcp2 0.12, GnuTLS 3.7, nghttp3 0.8 (issue 40; heaptrack over 1,500 of them from an
/// Initial flood, and endpoint_test's AHalfOpenConnectionHoldsAboutItsEstimate): ngtcp2's
/// connection ~83 KB (its own blocks for packet numbers, acknowledgements, the crypto
/// streams and the server's first flight kept for retransmission), the GnuTLS session
/// ~25 KB, nghttp3's session ~4 KB, ours ~1 KB: ~113 KB, rounded up.
inline constexpr size_t half_open_connection_bytes = 128 * 1024;

/// 0-RTT stream bytes a connection may send before its handshake completes. They wait for
/// it (connection.cpp), so they add to what a half-open connection holds: past this the
/// connection is closed (quic_early_overflows). A client's early requests are small, and
/// its initial congestion window (RFC 9002: 10 packets, some 12 KB) bounds what it sends
/// before its first acknowledgement.
inline constexpr size_t max_early_bytes = 16 * 1024;

struct endpoint_config {
    transport_config transport;
    /// The position of the endpoint's UDP socket in its SO_REUSEPORT group, in the first
    /// byte of every connection ID we issue: the steering program (steering.hpp) sends a
    /// connection's packets to that socket, whichever worker or reactor joined when.
    uint8_t group_position = 0;
    size_t max_connections = 10'000;
    /// Keys stateless reset tokens and Retry tokens; all zero: random per endpoint. The
    /// reactors of one server share it so a reset or token from one is good on another.
    std::array<uint8_t, 32> secret{};
    /// Initials per second after which a client must prove its address with a Retry
    /// round trip (RFC 9000 §8.1.2); 0: always.
    uint32_t retry_above_initials_per_second = 1000;
    /// Connections in their handshake (half-open) past which a new client must prove its
    /// address with a Retry round trip first; one that comes back with the token is served
    /// while under max_connections, whatever this count. The rate above alone let 1,000
    /// new connections a second in, each held up to the 10 s handshake timeout: an Initial
    /// flood from spoofed addresses kept some 10,000 half-open connections, over 1 GB
    /// (issue 40). 256 x half_open_connection_bytes = 32 MiB a reactor is the most such a
    /// flood makes it hold; 256 handshakes at once is some 2,500 new clients a second per
    /// reactor at a 100 ms round trip before they are asked for a Retry (one more round
    /// trip, not a refusal).
    size_t max_half_open = 256;
    uint64_t retry_token_lifetime_ms = 10'000;
    uint32_t stateless_resets_per_second = 100; ///< more unknown short-header packets are dropped
};

} // namespace ringbolt::quic
