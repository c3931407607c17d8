// Datagram sockets on epoll: recvmmsg in batches when a socket is readable (at most four
// batches a turn, fair to the rest), sendmmsg of a batch's planned messages at once, and a
// batch the socket has no room for waits, with those queued behind it, for EPOLLOUT.
#include "core/log.hpp"
#include "uring/epoll_backend.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/epoll.h>

namespace ringbolt::uring {

namespace {
constexpr size_t max_recv_batch = 32;    ///< datagrams per recvmmsg
constexpr int recv_batches_per_turn = 4; ///< then the socket waits for the next turn
} // namespace

core::result<void> epoll_backend::setup_datagrams(const datagram_buffers& buffers) noexcept {
    if (buffers.size % 8 != 0 || buffers.size <= datagram_buffers::header_room || !_dgram_hdrs.empty() ||
        buffers.count == 0 || (buffers.count & (buffers.count - 1)) != 0) {
        return {core::errc::invalid_argument}; // as the io_uring backend's buffer ring
    }
    // The same payload room as an io_uring buffer, so both backends drop the same datagrams.
    size_t payload = buffers.size - datagram_buffers::header_room;
    size_t n = std::min<size_t>(buffers.count, max_recv_batch);
    _dgram_buf.resize(n * payload);
    _dgram_hdrs.resize(n);
    _dgram_iov.resize(n);
    _dgram_slots.resize(n);
    for (size_t i = 0; i < n; ++i) {
        _dgram_iov[i] = {_dgram_buf.data() + i * payload, payload};
        msghdr& h = _dgram_hdrs[i].msg_hdr;
        h = msghdr{};
        h.msg_name = &_dgram_slots[i].name;
        h.msg_iov = &_dgram_iov[i];
        h.msg_iovlen = 1;
        h.msg_control = _dgram_slots[i].control;
    }
    return {};
}

void epoll_backend::update_dgram(uint32_t id) noexcept {
    dgram_state& st = _dgrams[id];
    uint32_t want = (st.reading ? EPOLLIN : 0u) | (!st.queue.empty() ? EPOLLOUT : 0u);
    if (want == 0) {
        if (st.registered) {
            epoll_ctl(_epfd, EPOLL_CTL_DEL, st.sock.fd, nullptr);
            st.registered = false;
        }
        return;
    }
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = dgram_tag | id;
    epoll_ctl(_epfd, st.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, st.sock.fd, &ev);
    st.registered = true;
}

void epoll_backend::arm_datagram(uint32_t id, const datagram_socket& sock) noexcept {
    if (id >= max_datagram_sockets || _dgram_hdrs.empty()) [[unlikely]] {
        core::log(core::log_level::error, "arm_datagram(%u): id out of range or setup_datagrams not done", id);
        return;
    }
    if (id >= _dgrams.size()) {
        _dgrams.resize(id + 1);
    }
    dgram_state& st = _dgrams[id];
    if (st.registered && st.sock.fd != sock.fd) {
        epoll_ctl(_epfd, EPOLL_CTL_DEL, st.sock.fd, nullptr); // the id names another socket now
        st.registered = false;
    }
    st.sock = sock;
    st.reading = true;
    update_dgram(id);
}

void epoll_backend::cancel_datagram(uint32_t id) noexcept {
    if (id >= _dgrams.size() || !_dgrams[id].reading) {
        return;
    }
    _dgrams[id].reading = false;
    update_dgram(id);
    _dgram_ends.push_back(id);
}

void epoll_backend::send_datagrams(uint32_t id, datagram_send& batch) noexcept {
    if (id >= _dgrams.size() || batch.payloads.empty()) [[unlikely]] {
        core::log(core::log_level::error, "send_datagrams(%u): unknown socket or empty batch", id);
        return;
    }
    dgram_state& st = _dgrams[id];
    plan_datagram_messages(batch, st.sock, st.sock.gso);
    batch.socket_id = id;
    st.queue.push_back(&batch);
    if (st.queue.size() == 1) {
        flush_datagrams(id); // else it waits behind the batches waiting for room
    }
}

void epoll_backend::flush_datagrams(uint32_t id) noexcept {
    dgram_state& st = _dgrams[id];
    bool waiting = false;
    while (!st.queue.empty()) {
        datagram_send& b = *st.queue.front();
        while (st.next < b.hdrs.size()) {
            size_t left = b.hdrs.size() - st.next;
            int n = ::sendmmsg(st.sock.fd, &b.hdrs[st.next], static_cast<unsigned>(std::min<size_t>(left, 1024)),
                               MSG_DONTWAIT);
            if (n > 0) {
                for (size_t k = st.next; k < st.next + static_cast<size_t>(n); ++k) {
                    b.sent += b.messages[k].count;
                    dgram_stats.sent += b.messages[k].count;
                    ++dgram_stats.send_messages;
                    dgram_stats.gso_messages += b.messages[k].segment_size != 0 ? 1 : 0;
                }
                st.next += static_cast<size_t>(n);
                continue;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                ++dgram_stats.send_waits;
                waiting = true;
                break;
            }
            // This message failed (sendmmsg reports an error only for its first one): note
            // it and go on with the rest, as io_uring's independent SQEs do.
            b.error = b.error != 0 ? b.error : -errno;
            ++dgram_stats.send_messages;
            ++dgram_stats.send_errors;
            if (errno == EIO && b.messages[st.next].segment_size != 0) {
                gso_failed(st.sock);
            }
            ++st.next;
        }
        if (waiting) {
            break;
        }
        _dgrams_sent.push_back(&b);
        st.queue.erase(st.queue.begin());
        st.next = 0;
    }
    update_dgram(id);
}

void epoll_backend::on_dgram_ready(uint32_t id, uint32_t ready, io_events& events) noexcept {
    if (id >= _dgrams.size()) {
        return;
    }
    counters->cqes_reaped.add();
    if ((ready & (EPOLLOUT | EPOLLERR)) != 0 && !_dgrams[id].queue.empty()) {
        flush_datagrams(id);
    }
    if ((ready & (EPOLLIN | EPOLLERR)) != 0 && _dgrams[id].reading) {
        read_datagrams(id, events);
    }
}

void epoll_backend::read_datagrams(uint32_t id, io_events& events) noexcept {
    size_t n = _dgram_hdrs.size();
    for (int round = 0; round < recv_batches_per_turn; ++round) {
        // Read again after each batch's callbacks: one may have cancelled or re-armed the id.
        if (id >= _dgrams.size() || !_dgrams[id].reading) {
            return;
        }
        int fd = _dgrams[id].sock.fd;
        uint16_t port = _dgrams[id].sock.port;
        for (size_t i = 0; i < n; ++i) {
            _dgram_hdrs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
            _dgram_hdrs[i].msg_hdr.msg_controllen = datagram_buffers::control_room;
            _dgram_hdrs[i].msg_hdr.msg_flags = 0;
        }
        int got = ::recvmmsg(fd, _dgram_hdrs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
        ++dgram_stats.recv_calls;
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            // An error of the socket's ends receiving, as it ends io_uring's multishot recvmsg.
            int err = errno;
            _dgrams[id].reading = false;
            update_dgram(id);
            events.on_datagram_end(id, -err);
            return;
        }
        for (int i = 0; i < got; ++i) {
            const msghdr& h = _dgram_hdrs[static_cast<size_t>(i)].msg_hdr;
            if ((h.msg_flags & MSG_TRUNC) != 0) {
                ++dgram_stats.truncated; // larger than a buffer: UDP has no partial datagram
                continue;
            }
            datagram d;
            d.peer.len = h.msg_namelen;
            std::memcpy(&d.peer.addr, h.msg_name, std::min<size_t>(h.msg_namelen, sizeof(sockaddr_storage)));
            read_datagram_control(static_cast<const unsigned char*>(h.msg_control), h.msg_controllen, port, d);
            d.data = static_cast<const char*>(h.msg_iov[0].iov_base);
            d.len = _dgram_hdrs[static_cast<size_t>(i)].msg_len;
            dgram_stats.count_received(d);
            events.on_datagram(id, d);
        }
        if (static_cast<size_t>(got) < n) {
            return; // the socket is drained
        }
    }
}

void epoll_backend::report_datagram_completions(io_events& events) noexcept {
    if (!dgram_completions_due()) {
        return;
    }
    // Swapped out first: a callback may send or cancel again (reported next turn).
    _dgrams_sent_now.swap(_dgrams_sent);
    _dgram_ends_now.swap(_dgram_ends);
    for (datagram_send* b : _dgrams_sent_now) {
        events.on_datagrams_sent(b->socket_id, *b);
    }
    for (uint32_t id : _dgram_ends_now) {
        events.on_datagram_end(id, -ECANCELED);
    }
    _dgrams_sent_now.clear();
    _dgram_ends_now.clear();
}

} // namespace ringbolt::uring
