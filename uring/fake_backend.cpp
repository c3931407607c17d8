// The backend without a ring: injected datagrams wait in a per-socket queue until a
// wait() finds the socket armed, sends are planned as the real backends plan them and
// captured one wire datagram at a time; stream recvs read real descriptors, a buffer of a
// ring of set size each, and end when it runs dry.
#include "uring/fake_backend.hpp"

#include <algorithm>
#include <cerrno>
#include <string>
#include <sys/socket.h>

namespace ringbolt::uring {

void fake_backend::arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept {
    if (slot >= _streams.size()) {
        _streams.resize(slot + 1);
    }
    _streams[slot] = {fd, gen, true, _waits};
}

void fake_backend::cancel_recv(int, uint32_t slot, uint16_t gen) noexcept {
    if (slot < _streams.size() && _streams[slot].gen == gen) {
        _streams[slot].armed = false;
    }
    _stream_events.push_back({deferred_completion::recv_cancelled, slot, gen, -ECANCELED});
}

void fake_backend::send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg, bool more) noexcept {
    ssize_t n = ::sendmsg(fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
    _stream_events.push_back({deferred_completion::sent, slot, gen, n < 0 ? -errno : static_cast<int>(n)});
}

// The streams' part of a wait: accepts, completions, then the bytes of armed recvs, a
// buffer each while the ring lasts (see accept_stream).
void fake_backend::wait_streams(io_events& events) noexcept {
    std::vector<int> accepts;
    accepts.swap(_accepts);
    for (int fd : accepts) {
        events.on_accept(fd);
    }
    std::vector<deferred_completion> done;
    done.swap(_stream_events);
    for (const deferred_completion& e : done) {
        e.report(events);
    }
    std::vector<readable_stream> readable;
    for (uint32_t slot = 0; slot < _streams.size(); ++slot) {
        stream_state& st = _streams[slot];
        if (st.armed && tls_record_waits(st.fd)) {
            st.armed = false; // EIO, as the kernel's TLS ends a receive at a record other than data
            events.on_recv_end(slot, st.gen, recv_end::tls_record);
            continue;
        }
        char probe;
        if (st.armed && ::recv(st.fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) { // bytes, or EOF
            readable.push_back({slot, st.fd, st.armed_wait});
        }
    }
    if (order_streams) {
        order_streams(readable);
    } else {
        std::stable_sort(readable.begin(), readable.end(), [](const readable_stream& a, const readable_stream& b) {
            return a.armed_wait < b.armed_wait;
        });
    }
    ++_waits;
    uint32_t buffers = stream_buffers;
    std::string buf(stream_buffer_size, '\0');
    for (const readable_stream& r : readable) {
        stream_state& st = _streams[r.slot];
        if (!st.armed || st.fd != r.fd) {
            continue; // cancelled (or closed) by what an earlier delivery did
        }
        uint16_t gen = st.gen;
        if (stream_buffers != 0 && buffers == 0) {
            st.armed = false;
            ++recvs_ran_dry;
            events.on_recv_end(r.slot, gen, recv_end::rearm);
            continue;
        }
        ssize_t n = ::recv(st.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) {
            --buffers;
            ++recvs_delivered;
            events.on_recv(r.slot, gen, buf.data(), static_cast<size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            st.armed = false;
            events.on_recv_end(r.slot, gen, n == 0 ? recv_end::eof : recv_end::error);
        }
    }
}

bool fake_backend::tls_record_waits(int fd) const noexcept {
    return kernel_tls &&
           std::any_of(_tls_records.begin(), _tls_records.end(), [fd](const tls_call& r) { return r.fd == fd; });
}

long fake_backend::recv_now(int fd, void* buf, size_t len, int flags) noexcept {
    return tls_record_waits(fd) ? -EIO : io_backend::recv_now(fd, buf, len, flags);
}

int fake_backend::attach_tls(int fd) noexcept {
    tls_calls.push_back({tls_call::attach, fd});
    return kernel_tls ? 0 : ktls_calls::attach_tls(fd);
}

int fake_backend::set_tls_keys(int fd, tls_direction dir, std::span<const unsigned char> keys) noexcept {
    tls_calls.push_back({tls_call::keys, fd, dir});
    return kernel_tls ? 0 : ktls_calls::set_tls_keys(fd, dir, keys);
}

long fake_backend::send_tls_record(int fd, uint8_t type, std::string_view body) noexcept {
    tls_calls.push_back({tls_call::record_sent, fd, tls_direction::send, type, std::string(body)});
    return kernel_tls ? static_cast<long>(body.size()) : ktls_calls::send_tls_record(fd, type, body);
}

long fake_backend::recv_tls_record(int fd, std::span<char> into, uint8_t& type) noexcept {
    if (!kernel_tls) {
        long n = ktls_calls::recv_tls_record(fd, into, type);
        tls_calls.push_back({tls_call::record_read, fd, tls_direction::receive, type,
                             n > 0 ? std::string(into.data(), static_cast<size_t>(n)) : std::string()});
        return n;
    }
    auto it = std::find_if(_tls_records.begin(), _tls_records.end(), [fd](const tls_call& r) { return r.fd == fd; });
    if (it == _tls_records.end()) {
        return -EAGAIN;
    }
    size_t n = std::min(it->body.size(), into.size());
    std::copy_n(it->body.data(), n, into.data());
    type = it->type;
    tls_calls.push_back(std::move(*it));
    _tls_records.erase(it);
    return static_cast<long>(n);
}

int fake_backend::take_socket_error(int fd) noexcept {
    tls_calls.push_back({tls_call::error_taken, fd});
    return kernel_tls ? 0 : ktls_calls::take_socket_error(fd);
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

core::result<void> fake_backend::setup_datagrams(const datagram_buffers& buffers) noexcept {
    if (buffers.size % 8 != 0 || buffers.size <= datagram_buffers::header_room) {
        return {core::errc::invalid_argument};
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
    if (!_done.empty() || !_ends.empty() || !_accepts.empty() || !_stream_events.empty()) {
        return true;
    }
    for (const socket_state& st : _sockets) {
        if (st.armed && !st.queue.empty()) {
            return true;
        }
    }
    return std::any_of(_streams.begin(), _streams.end(),
                       [this](const stream_state& st) { return st.armed && tls_record_waits(st.fd); });
}

bool fake_backend::wait(unsigned, io_events& events) noexcept {
    events.on_wait_end();
    wait_streams(events);
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
