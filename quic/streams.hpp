// The contract between the QUIC transport (quic/, over libngtcp2) and the protocol that
// runs on its streams (h3/, over libnghttp3). Neither side includes the other's library:
// the transport turns datagrams into in-order stream bytes and back, the protocol turns
// stream bytes into requests and responses. One `stream_host` and one `stream_user` per
// QUIC connection; both live on the reactor's thread and call each other synchronously.
//
// Stream ids are QUIC's (RFC 9000 §2.1): the low two bits say who opened the stream and
// whether it is bidirectional. Error codes are application error codes (RFC 9114 §8.1
// for HTTP/3). Bytes handed across are never owned by the receiver past the call unless
// a rule below says so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringbolt::quic {

/// One piece of output: bytes in the protocol's memory.
struct out_piece {
    const uint8_t* data = nullptr;
    size_t len = 0;
};

/// What the protocol offers to send next: pieces of one stream, in order. The pieces stay
/// valid until the transport reports them acknowledged (stream_user::on_acked) or the
/// stream closes: QUIC may have to send them again.
struct stream_output {
    static constexpr size_t max_pieces = 16;
    int64_t stream_id = -1; ///< -1: nothing to send now
    bool fin = false;       ///< the stream's output ends after these pieces
    size_t count = 0;       ///< pieces used
    out_piece pieces[max_pieces];
};

/// What the transport offers the protocol above it.
class stream_host {
  public:
    virtual ~stream_host() = default;
    /// Open a unidirectional stream of ours (HTTP/3's control and QPACK streams). Returns
    /// its id, or -1 while the peer's stream limit forbids it.
    virtual int64_t open_uni_stream() noexcept = 0;
    /// The protocol is done with `n` more bytes of `stream_id`'s input: the peer gets that
    /// much stream flow-control credit back (the connection's came back as the bytes
    /// arrived, so held bodies never block other streams). Bytes the protocol still holds
    /// (a body no app has read yet) are reported only once read, so the stream windows
    /// bound what a peer can make the server buffer.
    virtual void consumed(int64_t stream_id, uint64_t n) noexcept = 0;
    /// Abort our sending side of the stream (RESET_STREAM).
    virtual void reset_stream(int64_t stream_id, uint64_t app_error) noexcept = 0;
    /// Ask the peer to stop sending on the stream (STOP_SENDING); what it still sends is
    /// credited back by the transport.
    virtual void stop_sending(int64_t stream_id, uint64_t app_error) noexcept = 0;
    /// The protocol has output (next_output will offer it): the transport writes packets
    /// before the reactor's turn ends.
    virtual void want_write() noexcept = 0;
    /// Let the peer open one more bidirectional stream (MAX_STREAMS, RFC 9000 §4.6). The
    /// transport never does by itself: the protocol gives each of the peer's streams back
    /// once its work is over (HTTP/3: the stream closed and the app done with its
    /// request), so streams reset at once cannot make more requests run than its cap.
    virtual void grant_bidi_stream() noexcept = 0;
    /// The peer's bidirectional streams allowed so far, in all: the first MAX_STREAMS plus
    /// every grant. A stream numbered past it cannot exist yet (HTTP/3's PRIORITY_UPDATE
    /// names streams by number, RFC 9218 §7.1, and is checked against it).
    virtual uint64_t bidi_streams_allowed() const noexcept = 0;
    /// End the connection with an application error (CONNECTION_CLOSE of type 0x1d),
    /// e.g. an HTTP/3 frame error. Nothing more is delivered to the protocol after it.
    virtual void close(uint64_t app_error, std::string_view reason) noexcept = 0;
    /// Whether some of the stream's bytes came in 0-RTT packets (RFC 9001 §4.6.1): early
    /// data, which an attacker may have replayed. A transport without 0-RTT: never.
    virtual bool came_early(int64_t /*stream_id*/) const noexcept { return false; }
};

/// What the protocol implements (h3::connection). Every call is noexcept: a fault the
/// protocol finds is answered through stream_host (reset_stream, close), never thrown.
class stream_user {
  public:
    virtual ~stream_user() = default;
    /// The connection may carry streams: its handshake is complete, or a resumed client's
    /// 0-RTT stream data arrived (the answers then go with the server's first flight, as
    /// 0.5-RTT data, RFC 9001 §4.1.1). Open the protocol's own streams here (HTTP/3:
    /// control, QPACK encoder and decoder). Stream data follows; came_early says which
    /// streams had some of theirs in 0-RTT.
    virtual void on_connected(stream_host& host) noexcept = 0;
    /// In-order bytes of `stream_id`, new since the last call; `fin`: the peer ended its
    /// side. The protocol reports what it no longer holds with stream_host::consumed
    /// (now or later).
    virtual void on_stream_data(int64_t stream_id, std::span<const uint8_t> data, bool fin) noexcept = 0;
    /// The peer reset its sending side (RESET_STREAM): no more input on the stream.
    virtual void on_stream_reset(int64_t stream_id, uint64_t app_error) noexcept = 0;
    /// The peer asked us to stop sending (STOP_SENDING): the protocol resets its side.
    virtual void on_stop_sending(int64_t stream_id, uint64_t app_error) noexcept = 0;
    /// The stream is gone on both sides (the transport forgets it after this call). A
    /// bidirectional stream of the peer's is given back with stream_host::grant_bidi_stream,
    /// once, now or when the protocol's work on it ends.
    virtual void on_stream_closed(int64_t stream_id, uint64_t app_error) noexcept = 0;
    /// The peer acknowledged `n` more bytes of the stream's output, in order: the
    /// protocol may free them.
    virtual void on_acked(int64_t stream_id, uint64_t n) noexcept = 0;
    /// Flow-control credit arrived for a stream that was blocked (stream_output below).
    virtual void on_stream_writable(int64_t stream_id) noexcept = 0;
    /// Offer what to send next (stream_output::stream_id -1: nothing). Called by the
    /// transport while it has room in packets; each offer is followed by `wrote` or
    /// `blocked` for that stream before the next offer.
    virtual void next_output(stream_output& out) noexcept = 0;
    /// The transport put the first `n` bytes of the last offer into packets (and its fin
    /// when `n` covered every piece and the offer had fin).
    virtual void wrote(int64_t stream_id, size_t n) noexcept = 0;
    /// The stream can take nothing now (the peer's flow control): do not offer it again
    /// until on_stream_writable.
    virtual void blocked(int64_t stream_id) noexcept = 0;
    /// The server drains: refuse new requests (HTTP/3 GOAWAY) and finish those in flight.
    virtual void begin_drain() noexcept = 0;
    /// No request stream is open: a draining connection may close now.
    virtual bool idle() const noexcept = 0;
};

} // namespace ringbolt::quic
