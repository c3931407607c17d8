// Pooled send batches between the QUIC endpoint and an io backend (see send_pool.hpp).
#include "quic/send_pool.hpp"

#include <cstring>

namespace ringbolt::quic {

void send_pool::send(const uring::datagram_address& peer, const uring::datagram_address& local, uint8_t ecn,
                     std::span<const iovec> payloads) noexcept {
    if (payloads.empty()) {
        return;
    }
    batch* b = nullptr;
    if (!_free.empty()) {
        b = _free.back();
        _free.pop_back();
    } else if (_all.size() < _max_inflight) {
        _all.push_back(std::make_unique<batch>());
        b = _all.back().get();
    } else {
        _dropped += payloads.size();
        return;
    }
    size_t total = 0;
    for (const iovec& v : payloads) {
        total += v.iov_len;
    }
    b->peer = peer;
    b->local = local;
    b->ecn = ecn;
    b->bytes.resize(total); // keeps its capacity from the batch's earlier use
    b->payloads.clear();
    size_t off = 0;
    for (const iovec& v : payloads) {
        std::memcpy(b->bytes.data() + off, v.iov_base, v.iov_len);
        b->payloads.push_back(iovec{b->bytes.data() + off, v.iov_len});
        off += v.iov_len;
    }
    _io.send_datagrams(_socket_id, *b);
}

void send_pool::on_sent(uring::datagram_send& sent) noexcept {
    auto& b = static_cast<batch&>(sent);
    if (b.sent < b.payloads.size()) {
        _send_errors += b.payloads.size() - b.sent;
    }
    _free.push_back(&b);
}

} // namespace ringbolt::quic
