// What a QUIC endpoint is told: transport parameters offered to every client (names as a
// uvicorn-style command line would spell them later: --h3-max-streams, ...), the limits
// that protect the server, and the endpoint's identity in the connection-ID space.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringbolt::quic {

struct transport_config {
    uint64_t max_streams_bidi = 100; ///< concurrent request streams a client may open
    /// HTTP/3 needs 3 (control, QPACK encoder, decoder); RFC 9114 §6.2 lets a client open
    /// more (extensions, reserved types to be ignored, §6.2.3). With exactly 3 a fourth
    /// never opened: a client's second control stream waited for MAX_STREAMS, unseen, and
    /// its error was never answered. One that closes is given back.
    uint64_t max_streams_uni = 16;
    uint64_t idle_timeout_ms = 30'000; ///< silent connections close after this
    uint64_t handshake_timeout_ms = 10'000;
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
};

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
    uint64_t retry_token_lifetime_ms = 10'000;
    uint32_t stateless_resets_per_second = 100; ///< more unknown short-header packets are dropped
};

} // namespace ringbolt::quic
