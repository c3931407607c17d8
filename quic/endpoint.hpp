// A reactor's QUIC endpoint: its connections keyed by connection ID (ours carry the
// position of the reactor's UDP socket in its SO_REUSEPORT group in their first byte), new
// connections from client Initials, and the stateless answers: version negotiation,
// stateless reset (rate limited), Retry under an Initial flood (past a rate of Initials or
// a count of half-open connections), CONNECTION_REFUSED past the connection cap. Garbage
// is dropped and counted, never logged per packet. One per reactor, used by that
// reactor's thread only.
#pragma once

#include "quic/config.hpp"
#include "quic/connection.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace ringbolt::quic {

/// Makes the protocol of each new connection (h3::connection in the server).
using stream_user_factory = std::function<std::unique_ptr<stream_user>(const uring::datagram_address& peer)>;

struct endpoint_stats {
    uint64_t packets = 0;              ///< datagrams (GRO segments) looked at
    uint64_t dropped = 0;              ///< garbage, truncated or unroutable: dropped unanswered
    uint64_t accepted = 0;             ///< connections made
    uint64_t refused = 0;              ///< Initials answered CONNECTION_REFUSED (connection cap, drain)
    uint64_t version_negotiations = 0; ///< Version Negotiation packets sent
    uint64_t stateless_resets = 0;     ///< Stateless Resets sent
    uint64_t replies_limited = 0;      ///< stateless answers not sent: over the rate limit
    uint64_t retries = 0;              ///< Retry packets sent
    uint64_t half_open_retries = 0;    ///< of which for the count of half-open connections (max_half_open)
    uint64_t bad_tokens = 0;           ///< Initials with a token that did not verify
    uint64_t closed = 0;               ///< connections gone (any reason)
    uint64_t idle_closed = 0;          ///< of which by the idle or handshake timeout
    uint64_t errors = 0;               ///< of which closed by us for the peer's transport error
    uint64_t tickets = 0;              ///< session tickets sent (one a completed handshake)
    uint64_t resumed = 0;              ///< handshakes that resumed a session with a ticket
    uint64_t early_data = 0;           ///< of which took 0-RTT data
    uint64_t early_overflows = 0;      ///< connections closed for more than max_early_bytes of 0-RTT data
};

class endpoint final : private connection_owner {
  public:
    /// Our connection IDs' length (RFC 9000 allows up to 20).
    static constexpr size_t cid_len = 16;

    endpoint(const endpoint_config& cfg, std::shared_ptr<const credentials_holder> creds, stream_user_factory factory,
             datagram_sink& sink);
    ~endpoint() override;
    endpoint(const endpoint&) = delete;
    endpoint& operator=(const endpoint&) = delete;

    /// A datagram (or GRO batch) from the socket. Replies and connection output wait for flush.
    void on_datagram(const uring::datagram& d, uint64_t now) noexcept;
    /// Write every connection that has output; call before the reactor's turn ends.
    void flush(uint64_t now) noexcept;
    /// The earliest connection timer (UINT64_MAX: none); on_timer runs those due and
    /// deletes the connections that ended.
    uint64_t next_expiry() const noexcept;
    void on_timer(uint64_t now) noexcept;
    /// Refuse new connections; connections finish their streams and close.
    void begin_drain(uint64_t now) noexcept;

    size_t connection_count() const noexcept { return _conns.size(); }
    /// Connections whose handshake has not completed (a client's address not proven unless
    /// it came back with a Retry token), each holding about half_open_connection_bytes.
    size_t half_open() const noexcept { return _half_open; }
    const endpoint_stats& stats() const noexcept { return _stats; }
    /// The connections, for tests.
    const std::vector<std::unique_ptr<connection>>& connections() const noexcept { return _conns; }

  private:
    struct cid_key {
        uint8_t len = 0;
        uint8_t data[NGTCP2_MAX_CIDLEN]{};
        bool operator==(const cid_key& o) const noexcept;
    };
    struct cid_hash {
        uint64_t seed;
        size_t operator()(const cid_key& k) const noexcept;
    };
    static cid_key key_of(const uint8_t* data, size_t len) noexcept;

    // connection_owner
    bool issue_cid(connection& c, ngtcp2_cid& cid, uint8_t* token, size_t cidlen) noexcept override;
    void retire_cid(const ngtcp2_cid& cid) noexcept override;
    void want_write(connection& c) noexcept override;
    void handshake_completed(connection& c) noexcept override;

    void on_packet(const uint8_t* data, size_t len, const uring::datagram& d, uint64_t now) noexcept;
    void accept_initial(const uint8_t* data, size_t len, const uring::datagram& d, uint64_t now) noexcept;
    void send_retry(const ngtcp2_pkt_hd& hd, const uring::datagram& d, uint64_t now) noexcept;
    void refuse(const ngtcp2_pkt_hd& hd, const uring::datagram& d) noexcept;
    void send_stateless_reset(const uint8_t* dcid, size_t len, const uring::datagram& d) noexcept;
    void send_version_negotiation(const ngtcp2_version_cid& vc, size_t len, const uring::datagram& d) noexcept;
    void roll(uint64_t now) noexcept;
    bool reply_allowed() noexcept;
    void new_cid(ngtcp2_cid& cid, size_t len) noexcept;
    void reset_token(uint8_t* token, const ngtcp2_cid& cid) noexcept;
    void reply(const uring::datagram& d, const uint8_t* data, size_t len) noexcept;
    void remove_dead(uint64_t now) noexcept;

    endpoint_config _cfg;
    std::shared_ptr<const credentials_holder> _creds; ///< read as each connection is made
    stream_user_factory _factory;
    datagram_sink& _sink;
    std::unordered_map<cid_key, connection*, cid_hash> _by_cid;
    std::vector<std::unique_ptr<connection>> _conns;
    std::vector<connection*> _dirty; ///< connections to write at flush
    endpoint_stats _stats;
    size_t _half_open = 0; ///< connections with the half_open mark
    bool _draining = false;
    uint64_t _second = 0; ///< the second the rate counters count in
    uint32_t _replies_this_second = 0;
    uint32_t _initials_this_second = 0;
    uint8_t _buf[NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE]{};
};

} // namespace ringbolt::quic
