// The in-memory backend's datagram half: injected datagrams wait in a per-socket queue
// until a wait() finds the socket armed; sends are planned as the real backends plan
// them and captured one wire datagram at a time.
#include "uring/fake_backend.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ringbolt::uring {

void fake_backend::not_emulated(const char* what) noexcept {
    std::fprintf(stderr, "fake_backend: %s: stream sockets are not emulated\n", what);
    std::abort();
}

fake_backend::socket_state& fake_backend::state(uint32_t id) {
    if (id >= _sockets.size()) {
        _sockets.resize(id + 1);
    }
    return _sockets[id];
}

void fake_backend::inject(uint32_t id, const datagram_address& peer, const datagram_address& local,
                          std::string_view payload, uint16_t segment_size, uint8_t ecn) {
    state(id).queue.push_back({peer, local, std::string(payload), segment_size, ecn});
}

void fake_backend::fail_receive(uint32_t id, int res) {
    _ends.emplace_back(id, res);
}

size_t fake_backend::queued(uint32_t id) const noexcept {
    return id < _sockets.size() ? _sockets[id].queue.size() : 0;
}

result<void> fake_backend::setup_datagrams(const datagram_buffers& buffers) noexcept {
    if (buffers.size % 8 != 0 || buffers.size <= datagram_buffers::header_room) {
        return {errc::invalid_argument};
    }
    _payload_room = buffers.size - datagram_buffers::header_room;
    return {};
}

void fake_backend::arm_datagram(uint32_t id, const datagram_socket& sock) noexcept {
    socket_state& st = state(id);
    st.sock = sock;
    st.armed = true;
}

void fake_backend::cancel_datagram(uint32_t id) noexcept {
    if (id < _sockets.size() && _sockets[id].armed) {
        _ends.emplace_back(id, -ECANCELED);
    }
}

void fake_backend::send_datagrams(uint32_t id, datagram_send& batch) noexcept {
    socket_state& st = state(id);
    plan_datagram_messages(batch, st.sock, st.sock.gso);
    batch.socket_id = id;
    for (const datagram_message& m : batch.messages) {
        ++dgram_stats.send_messages;
        dgram_stats.gso_messages += m.segment_size != 0 ? 1 : 0;
        if (_send_failures_left != 0) {
            --_send_failures_left;
            batch.error = batch.error != 0 ? batch.error : _send_failure;
            ++dgram_stats.send_errors;
            continue;
        }
        for (uint32_t i = m.first; i < m.first + m.count; ++i) {
            const iovec& p = batch.payloads[i];
            sent.push_back({id, batch.peer, batch.local, batch.ecn,
                            std::string(static_cast<const char*>(p.iov_base), p.iov_len), m.segment_size});
        }
        batch.sent += m.count;
        dgram_stats.sent += m.count;
    }
    _done.push_back(&batch);
}

bool fake_backend::due() const noexcept {
    if (!_done.empty() || !_ends.empty()) {
        return true;
    }
    for (const socket_state& st : _sockets) {
        if (st.armed && !st.queue.empty()) {
            return true;
        }
    }
    return false;
}

bool fake_backend::wait(unsigned, io_events& events) noexcept {
    std::vector<datagram_send*> done;
    done.swap(_done);
    for (datagram_send* b : done) {
        events.on_datagrams_sent(b->socket_id, *b);
    }
    std::vector<std::pair<uint32_t, int>> ends;
    ends.swap(_ends);
    for (auto [id, res] : ends) {
        if (id < _sockets.size() && _sockets[id].armed) {
            _sockets[id].armed = false;
            events.on_datagram_end(id, res);
        }
    }
    // What is queued now; a callback's inject waits for the next wait, as a kernel's would.
    for (uint32_t id = 0; id < _sockets.size(); ++id) {
        size_t n = _sockets[id].queue.size();
        for (size_t k = 0; k < n && _sockets[id].armed; ++k) {
            queued_datagram q = std::move(_sockets[id].queue.front());
            _sockets[id].queue.pop_front();
            if (q.payload.size() > _payload_room) {
                ++dgram_stats.truncated; // as a real receive buffer would drop it
                continue;
            }
            datagram d;
            d.peer = q.peer;
            d.local = q.local;
            d.data = q.payload.data();
            d.len = q.payload.size();
            d.segment_size = q.segment_size;
            d.ecn = q.ecn;
            dgram_stats.count_received(d);
            events.on_datagram(id, d);
        }
    }
    return true;
}

} // namespace ringbolt::uring
