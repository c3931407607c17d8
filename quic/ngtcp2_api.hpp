// Everything in quic/ that depends on the ngtcp2 release: ngtcp2 and its GnuTLS crypto
// backend are pre-1.0 and change their API between minor releases (callback signatures,
// "versioned" structs, crypto levels). Supported: ngtcp2 0.12.x (Debian 12's 0.12.1).
// The rest of quic/ calls only functions whose signature has not moved and the wrappers
// below; a port to another release edits this header and ngtcp2_api.cpp.
#pragma once

#include "core/small_blocks.hpp"
#include "quic/config.hpp"

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/version.h>

#include <cstddef>
#include <cstdint>

static_assert(NGTCP2_VERSION_NUM >= 0x000c00 && NGTCP2_VERSION_NUM < 0x000d00,
              "quic/ngtcp2_api.{hpp,cpp} are written for ngtcp2 0.12.x: port them to this release");

namespace ringbolt::quic::ngtcp2_api {

/// What ngtcp2 reports about a server connection, in our words. ngtcp2_api.cpp adapts
/// ngtcp2's callback table to it. A non-zero return fails the ngtcp2 call in progress
/// (NGTCP2_ERR_CALLBACK_FAILURE).
class conn_events {
  public:
    virtual ~conn_events() = default;
    virtual int on_handshake_completed() noexcept = 0;
    virtual int on_stream_open(int64_t stream_id) noexcept = 0;
    /// `early`: the bytes came in a 0-RTT packet.
    virtual int on_stream_data(int64_t stream_id, const uint8_t* data, size_t len, bool fin, bool early) noexcept = 0;
    virtual int on_acked(int64_t stream_id, uint64_t n) noexcept = 0;
    virtual int on_stream_close(int64_t stream_id, uint64_t app_error) noexcept = 0;
    virtual int on_stream_reset(int64_t stream_id, uint64_t app_error) noexcept = 0;
    virtual int on_stop_sending(int64_t stream_id, uint64_t app_error) noexcept = 0;
    virtual int on_stream_writable(int64_t stream_id) noexcept = 0;
    /// A new connection ID of ours (cid->datalen bytes to fill) and its stateless reset token.
    virtual int new_connection_id(ngtcp2_cid* cid, uint8_t* token, size_t cidlen) noexcept = 0;
    virtual int retire_connection_id(const ngtcp2_cid* cid) noexcept = 0;
};

/// Settings and transport parameters at the library's defaults for this release.
void default_settings(ngtcp2_settings& s) noexcept;
void default_params(ngtcp2_transport_params& p) noexcept;
/// The release's name for a congestion controller (0.12: ngtcp2_settings::cc_algo).
ngtcp2_cc_algo cc_algo(congestion_control c) noexcept;
/// The pacer: the most bytes to send at once, and the call that, after a burst, sets
/// when the next may go (as sent at `ts`).
size_t send_quantum(ngtcp2_conn* conn) noexcept;
/// The peer has acknowledged a packet of ours (the connection has an RTT sample): it
/// receives what is sent to its address.
bool peer_acknowledged(ngtcp2_conn* conn) noexcept;
void update_pkt_tx_time(ngtcp2_conn* conn, uint64_t ts) noexcept;

/// An allocator over `pool` (core/small_blocks.hpp): ngtcp2 keeps a pointer to `mem`.
void block_allocator(ngtcp2_mem& mem, core::block_pool* pool) noexcept;

/// A server connection whose callbacks go to `events` (and the GnuTLS crypto backend), its
/// blocks from `mem` (null: malloc).
int server_new(ngtcp2_conn** out, const ngtcp2_cid& client_scid, const ngtcp2_cid& our_scid, const ngtcp2_path& path,
               uint32_t version, const ngtcp2_settings& settings, const ngtcp2_transport_params& params,
               const ngtcp2_mem* mem, conn_events* events) noexcept;

int read_packet(ngtcp2_conn* conn, const ngtcp2_path& path, uint8_t ecn, const uint8_t* pkt, size_t len,
                uint64_t now) noexcept;

/// One packet: stream data of `stream_id` (-1: none) and whatever the connection owes.
/// Returns its size (0: nothing to send now) or an NGTCP2_ERR_*; *consumed is the stream
/// bytes taken (-1: none).
/// `path` (null: not wanted) is set to the path the packet goes on (the current one, or
/// one being validated).
ngtcp2_ssize write_stream(ngtcp2_conn* conn, ngtcp2_path* path, uint8_t* dest, size_t destlen, uint8_t* ecn,
                          ngtcp2_ssize* consumed, uint32_t flags, int64_t stream_id, const ngtcp2_vec* vec,
                          size_t count, uint64_t now) noexcept;

/// CONNECTION_CLOSE with a transport error from a library error (0: NO_ERROR), a TLS
/// alert (when `liberr` is NGTCP2_ERR_CRYPTO) or an application error.
ngtcp2_ssize write_close_liberr(ngtcp2_conn* conn, uint8_t* dest, size_t destlen, int liberr, uint64_t now) noexcept;
ngtcp2_ssize write_close_app(ngtcp2_conn* conn, uint8_t* dest, size_t destlen, uint64_t app_error,
                             const uint8_t* reason, size_t reasonlen, uint64_t now) noexcept;

/// The maximum datagram the connection sends now.
size_t max_udp_payload(ngtcp2_conn* conn) noexcept;

} // namespace ringbolt::quic::ngtcp2_api
