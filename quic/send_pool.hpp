// The QUIC endpoint's way onto a datagram socket of an io backend: a datagram_sink that
// copies each burst of one connection into a send batch (uring::datagram_send: one GSO
// message per run of equal-size packets where the socket offers it) and keeps the batch
// until the backend reports it sent. Batches are pooled; past `max_inflight` of them a
// burst is dropped and counted, as a full socket buffer would drop it (QUIC's loss
// recovery sends it again).
#pragma once

#include "quic/connection.hpp"
#include "uring/backend.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace ringbolt::quic {

class send_pool final : public datagram_sink {
  public:
    send_pool(uring::io_backend& io, uint32_t socket_id, size_t max_inflight = 512) noexcept
        : _io(io), _socket_id(socket_id), _max_inflight(max_inflight) {}
    send_pool(const send_pool&) = delete;
    send_pool& operator=(const send_pool&) = delete;

    void send(const uring::datagram_address& peer, const uring::datagram_address& local, uint8_t ecn,
              std::span<const iovec> payloads) noexcept override;
    /// io_events::on_datagrams_sent for this pool's socket: the batch is free again.
    void on_sent(uring::datagram_send& batch) noexcept;

    size_t inflight() const noexcept { return _all.size() - _free.size(); }
    uint64_t dropped() const noexcept { return _dropped; }         ///< datagrams not sent: too many batches in flight
    uint64_t send_errors() const noexcept { return _send_errors; } ///< datagrams the kernel refused

  private:
    struct batch : uring::datagram_send {
        std::vector<uint8_t> bytes; ///< the payloads, back to back
    };
    uring::io_backend& _io;
    uint32_t _socket_id;
    size_t _max_inflight;
    std::vector<std::unique_ptr<batch>> _all;
    std::vector<batch*> _free;
    uint64_t _dropped = 0;
    uint64_t _send_errors = 0;
};

} // namespace ringbolt::quic
