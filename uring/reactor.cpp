// The per-core loop: submit-and-wait once per turn, reap every CQE, run the
// application on the turn's batch, then queue one send per connection with output.
#include "uring/reactor.hpp"

#include "core/cpu.hpp"
#include "core/log.hpp"
#include "uring/user_data.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef RINGBOLT_HAVE_SDT
#include <sys/sdt.h>
#define RB_PROBE(name, ...) DTRACE_PROBE2(ringbolt, name, __VA_ARGS__)
#else
#define RB_PROBE(name, ...) ((void)0)
#endif

namespace ringbolt::uring {

uint32_t monotonic_seconds() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<uint32_t>(ts.tv_sec) + 1; // never 0: 0 means "no deadline"
}

reactor::reactor(unsigned index, const server_config& config, const http::app_routes& routes, app_handler& app,
                 int listen_fd, int cpu)
    : _index(index), _config(config), _routes(routes), _app(app), _listen_fd(listen_fd), _cpu(cpu) {}

reactor::~reactor() {
    for (auto& s : _slots) {
        if (s.in_use && s.fd >= 0) {
            ::close(s.fd);
        }
    }
    _buffers.destroy();
    if (_ring_ok) {
        io_uring_queue_exit(&_ring);
    }
    if (_wake_fd >= 0) {
        ::close(_wake_fd);
    }
    if (_listen_fd >= 0) {
        ::close(_listen_fd);
    }
}

result<void> reactor::setup(ring_features& features) noexcept {
    // Signals go to the main thread, which turns them into a drain.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    if (_config.pin_threads && _cpu >= 0 && !pin_current_thread(_cpu)) {
        log(log_level::warning, "reactor %u: could not pin to CPU %d", _index, _cpu);
    }
    RB_TRY(setup_ring(_ring, _config.ring_entries, features));
    _ring_ok = true;
    _features = features;
    RB_TRY(_buffers.init(_ring, 1, _config.buffer_count, _config.buffer_size));
    _wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (_wake_fd < 0) {
        return {errc::system, errno};
    }
    _now_s = monotonic_seconds();
    _last_tick = _now_s;
    return {};
}

io_uring_sqe* reactor::get_sqe() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
    if (sqe == nullptr) [[unlikely]] {
        io_uring_submit(&_ring);
        _counters.submit_calls.add();
        sqe = io_uring_get_sqe(&_ring);
    }
    _counters.sqes_submitted.add();
    return sqe;
}

void reactor::arm_accept() noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, _listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::accept));
    _accept_armed = true;
}

void reactor::arm_recv(conn_slot& s, uint32_t slot) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, s.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = _buffers.group_id();
    io_uring_sqe_set_data64(sqe, encode_user_data(op::recv, slot, s.gen));
    s.recv_armed = true;
}

void reactor::arm_wake() noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, _wake_fd, &_wake_buf, sizeof(_wake_buf), 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::wake));
}

void reactor::request_stop() noexcept {
    _stop.store(true, std::memory_order_release);
    if (_wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t ignored = ::write(_wake_fd, &one, sizeof(one));
        (void)ignored;
    }
}

http::conn_env reactor::env() noexcept {
    return http::conn_env{_routes, _config.limits, _date.value(), _now_s, _draining, _batch, _counters};
}

void reactor::run() noexcept {
    arm_accept();
    arm_wake();
    _batch.reserve(256);
    _responses.reserve(256);
    while (true) {
        flush_dirty();
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{0, 250'000'000}; // wake at least 4x a second for the tick
        int rc = io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
        _counters.submit_calls.add();
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) [[unlikely]] {
            log(log_level::error, "reactor %u: io_uring_enter failed: %s", _index, std::strerror(-rc));
            break;
        }
        _date.refresh();
        _now_s = monotonic_seconds();

        unsigned head;
        unsigned seen = 0;
        io_uring_for_each_cqe(&_ring, head, cqe) {
            handle_cqe(cqe);
            ++seen;
        }
        io_uring_cq_advance(&_ring, seen);
        _counters.cqes_reaped.add(seen);
        _buffers.publish();

        if (!_batch.empty()) {
            run_app();
        }
        if (_now_s != _last_tick) {
            tick();
        }
        if (!_draining && _stop.load(std::memory_order_acquire)) [[unlikely]] {
            begin_drain();
        }
        if (_draining && _live == 0 && !_accept_armed) {
            break;
        }
        if (_draining && _now_s > _drain_deadline + 2) {
            log(log_level::warning, "reactor %u: exiting with %zu connection(s) still closing", _index, _live);
            break;
        }
    }
    _app.on_reactor_exit(_index);
}

void reactor::handle_cqe(const io_uring_cqe* cqe) noexcept {
    decoded_user_data ud = decode_user_data(io_uring_cqe_get_data64(cqe));
    switch (ud.kind) {
    case op::recv: on_recv(cqe); break;
    case op::send: on_send(cqe); break;
    case op::accept: on_accept(cqe); break;
    case op::wake:
        if (!_draining || !_stop.load(std::memory_order_relaxed)) {
            arm_wake();
        }
        break;
    case op::cancel: break;
    }
}

void reactor::on_accept(const io_uring_cqe* cqe) noexcept {
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        _accept_armed = false;
        if (!_draining) {
            if (cqe->res < 0 && cqe->res != -ECANCELED) {
                log(log_level::warning, "reactor %u: accept: %s (re-arming)", _index, std::strerror(-cqe->res));
            }
            arm_accept();
        } else if (_listen_fd >= 0) {
            ::close(_listen_fd);
            _listen_fd = -1;
        }
    }
    if (cqe->res < 0) {
        return;
    }
    int fd = cqe->res;
    if (_draining || _live >= _config.max_connections) [[unlikely]] {
        ::close(fd);
        return;
    }
    uint32_t slot;
    if (!_free_slots.empty()) {
        slot = _free_slots.back();
        _free_slots.pop_back();
    } else {
        slot = static_cast<uint32_t>(_slots.size());
        if (slot >= max_slots) {
            ::close(fd);
            return;
        }
        _slots.emplace_back();
    }
    conn_slot& s = _slots[slot];
    s.fd = fd;
    s.in_use = true;
    s.recv_armed = false;
    s.send_inflight = false;
    s.dirty = false;
    s.peer_eof = false;
    s.lingering = false;
    s.closing = false;
    s.cancel_sent = false;
    s.sent = 0;
    http::peer_address peer;
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        if (ss.ss_family == AF_INET) {
            auto* in = reinterpret_cast<sockaddr_in*>(&ss);
            peer.family = AF_INET;
            peer.port = ntohs(in->sin_port);
            std::memcpy(peer.addr, &in->sin_addr, 4);
        } else if (ss.ss_family == AF_INET6) {
            auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
            peer.family = AF_INET6;
            peer.port = ntohs(in6->sin6_port);
            std::memcpy(peer.addr, &in6->sin6_addr, 16);
        }
    }
    s.conn.open(slot, s.gen, peer, _now_s, _config.limits);
    ++_live;
    _counters.connections_accepted.add();
    _counters.connections_open.set(_live);
    RB_PROBE(accept, slot, fd);
    arm_recv(s, slot);
}

void reactor::on_recv(const io_uring_cqe* cqe) noexcept {
    decoded_user_data ud = decode_user_data(io_uring_cqe_get_data64(cqe));
    bool has_buffer = cqe->flags & IORING_CQE_F_BUFFER;
    uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (ud.slot >= _slots.size()) [[unlikely]] {
        if (has_buffer) {
            _buffers.recycle(bid);
        }
        return;
    }
    conn_slot& s = _slots[ud.slot];
    if (!s.in_use || static_cast<uint16_t>(s.gen) != ud.gen) [[unlikely]] {
        if (has_buffer) {
            _buffers.recycle(bid); // late completion for a reused slot: drop, keep the buffer
        }
        return;
    }
    if (!more) {
        s.recv_armed = false;
    }
    if (s.closing) [[unlikely]] {
        if (has_buffer) {
            _buffers.recycle(bid);
        }
        maybe_finalize(s, ud.slot);
        return;
    }
    int res = cqe->res;
    if (res > 0) [[likely]] {
        _counters.bytes_in.add(static_cast<uint64_t>(res));
        if (!s.lingering) {
            auto e = env();
            s.conn.on_data({_buffers.data(bid), static_cast<size_t>(res)}, e);
            if (s.conn.has_output() && !s.dirty) {
                s.dirty = true;
                _dirty.push_back(ud.slot);
            }
            if (s.conn.close_after_flush() && !s.conn.has_output() && !s.send_inflight) {
                close_conn(s, ud.slot, !s.conn.idle());
            }
        }
        if (has_buffer) {
            _buffers.recycle(bid); // bytes parsed (or copied): the buffer goes back now
        }
        if (!more && !s.closing) {
            arm_recv(s, ud.slot);
        }
        return;
    }
    if (has_buffer) {
        _buffers.recycle(bid);
    }
    if (res == -ENOBUFS) {
        // The buffer ring ran dry this turn: buffers are republished before the next
        // submit, so re-arming now is enough.
        _counters.enobufs.add();
        if (!s.closing) {
            arm_recv(s, ud.slot);
        }
        return;
    }
    if (res == 0) {
        // Peer finished sending. Answer what it asked, then close.
        s.peer_eof = true;
        if (s.lingering || (s.conn.idle() && !s.send_inflight)) {
            s.lingering = false;
            close_conn(s, ud.slot, false);
        }
        return;
    }
    if (more) {
        return;
    }
    // Error or cancellation: the connection is over.
    s.peer_eof = true;
    close_conn(s, ud.slot, false);
}

void reactor::start_send(conn_slot& s, uint32_t slot) noexcept {
    s.sending.swap(s.conn.output());
    s.conn.output().clear();
    s.sent = 0;
    s.send_inflight = true;
    s.send_since = _now_s;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, s.fd, s.sending.data(), s.sending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::send, slot, s.gen));
}

void reactor::on_send(const io_uring_cqe* cqe) noexcept {
    decoded_user_data ud = decode_user_data(io_uring_cqe_get_data64(cqe));
    if (ud.slot >= _slots.size()) [[unlikely]] {
        return;
    }
    conn_slot& s = _slots[ud.slot];
    if (!s.in_use || static_cast<uint16_t>(s.gen) != ud.gen || !s.send_inflight) [[unlikely]] {
        return;
    }
    int res = cqe->res;
    if (res < 0) {
        s.send_inflight = false;
        s.sending.clear();
        s.peer_eof = true;
        close_conn(s, ud.slot, false);
        return;
    }
    _counters.bytes_out.add(static_cast<uint64_t>(res));
    s.sent += static_cast<size_t>(res);
    if (s.sent < s.sending.size() && !s.closing) {
        // Short send: the rest of the same buffer, still one send in flight.
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_send(sqe, s.fd, s.sending.data() + s.sent, s.sending.size() - s.sent, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, encode_user_data(op::send, ud.slot, s.gen));
        s.send_since = _now_s;
        return;
    }
    RB_PROBE(response_sent, ud.slot, s.sent);
    s.send_inflight = false;
    s.sending.clear();
    if (s.sending.capacity() > 65536) {
        std::string().swap(s.sending);
    }
    if (s.closing) {
        maybe_finalize(s, ud.slot);
        return;
    }
    after_output(s, ud.slot);
}

// Decide what follows once a connection's output may have drained.
void reactor::after_output(conn_slot& s, uint32_t slot) noexcept {
    if (s.conn.has_output()) {
        if (!s.send_inflight) {
            start_send(s, slot);
        }
        return;
    }
    if (s.send_inflight) {
        return;
    }
    if (s.conn.close_after_flush()) {
        close_conn(s, slot, !s.peer_eof);
    } else if ((s.peer_eof || _draining) && s.conn.idle()) {
        close_conn(s, slot, false);
    }
}

void reactor::flush_dirty() noexcept {
    for (uint32_t slot : _dirty) {
        conn_slot& s = _slots[slot];
        s.dirty = false;
        if (s.in_use && !s.closing) {
            after_output(s, slot);
        }
    }
    _dirty.clear();
}

void reactor::close_conn(conn_slot& s, uint32_t slot, bool graceful) noexcept {
    if (s.closing) {
        return;
    }
    if (graceful && s.recv_armed && !s.lingering) {
        // Lingering close: send FIN after the last response, then read and discard what
        // the client still sends for a moment, so our close() does not reset the
        // connection before the client has read the response.
        ::shutdown(s.fd, SHUT_WR);
        s.lingering = true;
        s.linger_until = _now_s + _config.linger_s;
        return;
    }
    s.closing = true;
    s.lingering = false;
    if (s.recv_armed || s.send_inflight) {
        // Wakes both a pending recv (EOF) and a stuck send (EPIPE); the cancel makes sure.
        ::shutdown(s.fd, SHUT_RDWR);
        if (s.recv_armed && !s.cancel_sent) {
            io_uring_sqe* sqe = get_sqe();
            io_uring_prep_cancel64(sqe, encode_user_data(op::recv, slot, s.gen), 0);
            io_uring_sqe_set_data64(sqe, encode_user_data(op::cancel));
            s.cancel_sent = true;
        }
    }
    maybe_finalize(s, slot);
}

void reactor::maybe_finalize(conn_slot& s, uint32_t slot) noexcept {
    if (s.recv_armed || s.send_inflight) {
        return;
    }
    RB_PROBE(close, slot, s.fd);
    ::close(s.fd);
    s.fd = -1;
    s.in_use = false;
    s.closing = false;
    ++s.gen;
    s.sending.clear();
    s.conn.release();
    _free_slots.push_back(slot);
    --_live;
    _counters.connections_closed.add();
    _counters.connections_open.set(_live);
}

void reactor::run_app() noexcept {
    _counters.python_batches.add();
    _counters.python_requests.add(_batch.size());
    _counters.gil_wait_ns.add(_app.handle_batch(_index, _batch, _responses, _date.value()));
    auto e = env();
    for (http::app_response& r : _responses) {
        if (r.conn_slot >= _slots.size()) {
            continue;
        }
        conn_slot& s = _slots[r.conn_slot];
        if (!s.in_use || s.gen != r.conn_gen || s.closing) {
            continue; // the client went away while the handler ran
        }
        s.conn.on_app_response(std::move(r), e);
        if (!s.dirty) {
            s.dirty = true;
            _dirty.push_back(r.conn_slot);
        }
    }
    _batch.clear();
    _responses.clear();
}

void reactor::tick() noexcept {
    _last_tick = _now_s;
    auto e = env();
    for (uint32_t slot = 0; slot < _slots.size(); ++slot) {
        conn_slot& s = _slots[slot];
        if (!s.in_use || s.closing) {
            continue;
        }
        if (s.lingering) {
            if (_now_s >= s.linger_until) {
                close_conn(s, slot, false);
            }
            continue;
        }
        if (s.send_inflight) {
            if (_now_s - s.send_since >= _config.write_timeout_s) {
                _counters.timeouts.add();
                close_conn(s, slot, false); // client stopped reading
            }
            continue;
        }
        uint32_t deadline = s.conn.deadline();
        if (deadline != 0 && _now_s >= deadline) {
            s.conn.on_timeout(e);
            if (s.conn.has_output()) {
                after_output(s, slot);
            } else {
                close_conn(s, slot, false);
            }
        }
    }
    if (_draining && _now_s >= _drain_deadline) {
        for (uint32_t slot = 0; slot < _slots.size(); ++slot) {
            conn_slot& s = _slots[slot];
            if (s.in_use && !s.closing) {
                close_conn(s, slot, false);
            }
        }
    }
}

void reactor::begin_drain() noexcept {
    _draining = true;
    _drain_deadline = _now_s + _config.graceful_timeout_s;
    if (_accept_armed) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_cancel64(sqe, encode_user_data(op::accept), 0);
        io_uring_sqe_set_data64(sqe, encode_user_data(op::cancel));
    }
    for (uint32_t slot = 0; slot < _slots.size(); ++slot) {
        conn_slot& s = _slots[slot];
        if (s.in_use && !s.closing && s.conn.begin_drain() && !s.send_inflight) {
            close_conn(s, slot, false);
        }
    }
}

} // namespace ringbolt::uring
