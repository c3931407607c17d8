// One server-side QUIC connection: ngtcp2 with a GnuTLS session, the stream_host the
// protocol above (h3/) sees, datagrams in and out, its timers as one deadline, the idle,
// handshake and drain timeouts, and the caps on what it buffers. Owned by a quic::endpoint
// on one reactor thread; never touched by another thread.
#pragma once

#include "quic/config.hpp"
#include "quic/ngtcp2_api.hpp"
#include "quic/streams.hpp"
#include "quic/tls_session.hpp"
#include "uring/datagram.hpp"

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace ringbolt::quic {

/// Where a connection's (and the endpoint's) datagrams go. The payloads are valid for the
/// call only: the sink copies them into a send batch (uring::datagram_send) or onto the wire.
class datagram_sink {
  public:
    virtual ~datagram_sink() = default;
    virtual void send(const uring::datagram_address& peer, const uring::datagram_address& local, uint8_t ecn,
                      std::span<const iovec> payloads) noexcept = 0;
};

class connection;

/// What a connection asks of its endpoint.
class connection_owner {
  public:
    virtual ~connection_owner() = default;
    /// A new connection ID of `cidlen` bytes for `c` (registered so its packets reach `c`)
    /// and its stateless reset token.
    virtual bool issue_cid(connection& c, ngtcp2_cid& cid, uint8_t* token, size_t cidlen) noexcept = 0;
    virtual void retire_cid(const ngtcp2_cid& cid) noexcept = 0;
    /// `c` has packets to write before the reactor's turn ends.
    virtual void want_write(connection& c) noexcept = 0;
    /// `c`'s handshake completed (before its protocol hears of it): it is half-open no more.
    virtual void handshake_completed(connection& c) noexcept = 0;
};

/// How a new connection came: the client's Initial as the endpoint accepted it.
struct accept_info {
    ngtcp2_cid client_scid{};   ///< the client's connection ID (our DCID)
    ngtcp2_cid original_dcid{}; ///< the DCID of the client's first Initial (before any Retry)
    ngtcp2_cid initial_dcid{};  ///< the DCID of this Initial (routes its retransmissions)
    ngtcp2_cid our_scid{};
    ngtcp2_cid retry_scid{}; ///< the SCID of our Retry, when the client came back with its token
    bool retried = false;
    uint32_t version = 0;
    uint8_t reset_token[NGTCP2_STATELESS_RESET_TOKENLEN]{};
    uring::datagram_address peer;
    uring::datagram_address local;
    ngtcp2_vec token{}; ///< the Initial's token (as ngtcp2 wants it in the settings)
};

/// Why a connection ended, for the endpoint's tallies.
enum class close_reason : uint8_t {
    none = 0,          ///< still open
    idle = 1,          ///< idle timeout: gone without a packet (RFC 9000 §10.1)
    handshake_timeout, ///< the handshake did not finish in time
    peer_closed,       ///< the peer sent CONNECTION_CLOSE (draining period)
    local_error,       ///< we closed it: a transport or TLS error
    app_closed,        ///< the protocol closed it (stream_host::close)
    drained,           ///< a drain finished: no stream left, or the drain timeout
    dropped,           ///< ngtcp2 dropped it without a close (e.g. a bad first Initial)
};

class connection final : public stream_host, private ngtcp2_api::conn_events {
  public:
    enum class phase : uint8_t {
        handshake, ///< until the TLS handshake completes; the protocol sees nothing yet, unless 0-RTT came
        open,      ///< streams flow
        closing,   ///< we sent CONNECTION_CLOSE; its packet answers what still arrives
        draining,  ///< the peer closed; we send nothing and wait out 3 PTO (RFC 9000 §10.2)
        dead,      ///< the endpoint deletes it
    };

    /// nullptr when ngtcp2 or GnuTLS refuses (out of memory): the endpoint drops the Initial.
    /// It keeps `creds` (its TLS session uses them) while a reload gives others to new ones.
    static std::unique_ptr<connection> accept(const accept_info& info, const transport_config& cfg,
                                              std::shared_ptr<const tls_credentials> creds,
                                              std::unique_ptr<stream_user> user, connection_owner& owner,
                                              uint64_t now) noexcept;
    ~connection() override;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// One QUIC packet (or coalesced packets) of one datagram, from `peer` to `local`: the
    /// path it came on, which may be new (a NAT rebinding, a migrating client: ngtcp2
    /// validates it, and the answers follow it).
    void on_packet(const uint8_t* data, size_t len, const uring::datagram_address& peer,
                   const uring::datagram_address& local, uint8_t ecn, uint64_t now) noexcept;
    /// Write what is owed into packets and hand them to `sink`.
    void write(uint64_t now, datagram_sink& sink) noexcept;
    /// When on_expiry must run next (nanoseconds, the same clock as `now`); UINT64_MAX: never.
    uint64_t expiry() const noexcept;
    void on_expiry(uint64_t now) noexcept;
    /// Refuse new requests, finish those in flight, then close (at the latest after the
    /// transport's drain timeout).
    void begin_drain(uint64_t now) noexcept;

    phase state() const noexcept { return _phase; }
    close_reason why_closed() const noexcept { return _why; }
    bool dead() const noexcept { return _phase == phase::dead; }
    /// Bytes delivered to the protocol that it has not reported consumed (all streams).
    uint64_t unconsumed_bytes() const noexcept;
    /// Stream bytes written and not yet acknowledged.
    uint64_t unacked_bytes() const noexcept { return _unacked; }
    /// Request streams not yet closed both ways (a drain waits for them).
    size_t open_bidi() const noexcept { return _open_bidi; }
    const uring::datagram_address& peer() const noexcept { return _peer; }
    /// The connection IDs the endpoint routes to this connection (ours, and the client's
    /// first DCID until the connection dies).
    std::vector<ngtcp2_cid>& routed_cids() noexcept { return _cids; }
    /// The protocol on top (tests look at theirs).
    stream_user& user() noexcept { return *_user; }
    /// The endpoint's mark: already in its list of connections to write.
    bool write_queued = false;
    /// The endpoint's mark: counted among its half-open connections (from its first
    /// Initial until its handshake completes or it is deleted).
    bool half_open = false;
    /// Once the handshake completed: whether it resumed a session, took 0-RTT data, sent a ticket.
    bool resumed() const noexcept;
    bool took_early_data() const noexcept;
    bool ticket_sent() const noexcept { return _ticket_sent; }
    /// Closed for sending more than max_early_bytes of 0-RTT stream data.
    bool early_overflow() const noexcept { return _early_overflow; }

    // stream_host
    int64_t open_uni_stream() noexcept override;
    void consumed(int64_t stream_id, uint64_t n) noexcept override;
    void reset_stream(int64_t stream_id, uint64_t app_error) noexcept override;
    void stop_sending(int64_t stream_id, uint64_t app_error) noexcept override;
    void want_write() noexcept override;
    void grant_bidi_stream() noexcept override;
    uint64_t bidi_streams_allowed() const noexcept override { return _bidi_allowed; }
    void close(uint64_t app_error, std::string_view reason) noexcept override;
    bool came_early(int64_t stream_id) const noexcept override;

  private:
    connection(const transport_config& cfg, std::unique_ptr<stream_user> user, connection_owner& owner) noexcept;

    struct stream_state {
        uint64_t delivered = 0;  ///< bytes handed to the protocol
        uint64_t consumed = 0;   ///< of which it reported done
        uint64_t unacked = 0;    ///< bytes written, not yet acknowledged
        bool input_done = false; ///< reset or stopped: the rest was credited back
        bool early = false;      ///< some of its bytes came in 0-RTT packets
    };

    // ngtcp2_api::conn_events
    int on_handshake_completed() noexcept override;
    int on_stream_open(int64_t stream_id) noexcept override;
    int on_stream_data(int64_t stream_id, const uint8_t* data, size_t len, bool fin, bool early) noexcept override;
    int on_acked(int64_t stream_id, uint64_t n) noexcept override;
    int on_stream_close(int64_t stream_id, uint64_t app_error) noexcept override;
    int on_stream_reset(int64_t stream_id, uint64_t app_error) noexcept override;
    int on_stop_sending(int64_t stream_id, uint64_t app_error) noexcept override;
    int on_stream_writable(int64_t stream_id) noexcept override;
    int new_connection_id(ngtcp2_cid* cid, uint8_t* token, size_t cidlen) noexcept override;
    int retire_connection_id(const ngtcp2_cid* cid) noexcept override;

    /// The protocol is connected and the connection carries streams (also before the
    /// handshake completes, for 0-RTT requests).
    bool streams_live() const noexcept;
    bool delivering() const noexcept;
    /// The stream gives up its held input (reset, stopped, closed): nothing more to credit.
    void credit_rest(stream_state& s) noexcept;
    /// Write CONNECTION_CLOSE (liberr, or the protocol's error when _app_close is set) and
    /// enter the closing period.
    void start_close(int liberr, uint64_t now, close_reason why) noexcept;
    void enter_end(phase p, uint64_t now, close_reason why) noexcept;
    void log_transport_error(int liberr) const noexcept;
    /// Hand packets `first` to `first + count` of the thread's tx buffer to `sink`, to `to`
    /// from `from` (runs of one ECN codepoint).
    void flush_packets(datagram_sink& sink, size_t first, size_t count, const size_t* sizes, const uint8_t* ecn,
                       const uring::datagram_address& to, const uring::datagram_address& from) noexcept;
    /// The current path (after a packet that may have moved it): `_peer`, `_local`.
    void follow_path() noexcept;
    bool drain_done() const noexcept;

    transport_config _cfg;
    std::unique_ptr<stream_user> _user;
    connection_owner& _owner;
    ngtcp2_mem _mem{}; ///< ngtcp2's allocator over _cfg.blocks (ngtcp2 keeps a pointer to it)
    ngtcp2_conn* _conn = nullptr;
    std::shared_ptr<const tls_credentials> _creds; ///< what _tls uses (freed before them)
    gnutls_session_t _tls = nullptr;
    bool _ticket_sent = false;    ///< the session ticket went out (on_handshake_completed)
    bool _user_connected = false; ///< the protocol heard on_connected (the handshake completed, or 0-RTT came)
    /// Stream data that came before the handshake completed (not 0-RTT), for on_connected.
    struct early_piece {
        int64_t stream_id;
        std::string bytes;
        bool fin;
    };
    std::vector<early_piece> _early_input;
    size_t _early_bytes = 0;      ///< 0-RTT stream bytes (and any before on_connected): at most max_early_bytes
    bool _early_overflow = false; ///< closed for sending more than max_early_bytes early
    ngtcp2_crypto_conn_ref _ref{};
    uring::datagram_address _peer;  ///< the current path's client address (ngtcp2's, after each packet)
    uring::datagram_address _local; ///< ... and ours
    std::vector<ngtcp2_cid> _cids;
    using stream_table = std::unordered_map<int64_t, stream_state>;
    stream_table _streams;
    /// Table nodes of closed streams, kept for the next ones (a node a request otherwise).
    std::vector<stream_table::node_type> _spare_nodes;
    static constexpr size_t max_spare_nodes = 32;
    /// Hand the connection to the protocol (on_connected), once.
    void connect_user() noexcept;
    void add_stream(int64_t stream_id) noexcept;
    std::vector<int64_t> _fin_retry; ///< fin-only offers that found no room: writable again at the next write
    uint64_t _unacked = 0;
    size_t _open_bidi = 0;
    uint64_t _bidi_allowed = 0; ///< the peer's bidirectional streams allowed in all (MAX_STREAMS so far)
    phase _phase = phase::handshake;
    close_reason _why = close_reason::none;
    bool _draining = false;
    uint64_t _drain_deadline = UINT64_MAX;
    uint64_t _end_at = UINT64_MAX; ///< closing/draining: when the connection is dead
    /// When the pacer let the next quantum go, as write() last saw it (UINT64_MAX: write
    /// did not stop for the pacer): how late a timer woke us is told to the pacer.
    uint64_t _paced_until = UINT64_MAX;
    /// A handshake whose client has acknowledged none of our packets ends then
    /// (transport_config::handshake_timeout_ms); UINT64_MAX once it has.
    mutable uint64_t _unanswered_until = UINT64_MAX;
    uint64_t unanswered_deadline() const noexcept;
    bool _app_close = false; ///< the protocol asked to close (stream_host::close)
    uint64_t _app_error = 0;
    std::string _app_reason;
    std::vector<uint8_t> _close_packet;
    uint32_t _packets_in_closing = 0;
    bool _send_close = false;
};

} // namespace ringbolt::quic
