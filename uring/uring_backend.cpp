// io_uring completions become io_events calls; buffers go back to the ring right
// after the reactor has parsed (or copied) their bytes, and are published once a turn.
#include "uring/uring_backend.hpp"

#include "core/log.hpp"
#include "uring/user_data.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>

namespace ringbolt::uring {

uring_backend::~uring_backend() {
    _dgram_buffers.destroy();
    _buffers.destroy();
    if (_ring_ok) {
        io_uring_queue_exit(&_ring);
    }
}

namespace {

constexpr unsigned max_cq_entries = 65536; // the kernel's IORING_MAX_CQ_ENTRIES

// The CQ at its largest has room for a completion per receive buffer (a multishot recv's
// bytes wait there until a turn takes them, max_completions_per_wait at a time) and three
// times as many for sends, accepts and the rest. Without room (counter cq_overflows) the
// kernel ends each multishot recv that has bytes (no F_MORE), and each end costs the
// reactor a synchronous read, its EAGAIN and a new recv: with 4x the SQ (4,096) at 4,096
// connections, one SQE more a request and 26% fewer requests a second. 16,384 entries for
// the default 4,096 buffers: 256 KiB a core, kernel memory mapped into the process.
unsigned cq_entries_for(const backend_config& c) noexcept {
    unsigned want = std::max(c.ring_entries, c.buffer_count) * 4;
    return std::min(std::bit_ceil(want), max_cq_entries);
}

// Where the kernel resizes rings (6.13+), the CQ starts at twice the SQ (the kernel's own
// default; 32 KiB for 1,024) and grows to cq_entries_for's when it first overflows: a
// reactor that never has thousands of completions at once never maps the rest.
unsigned first_cq_entries(const backend_config& c) noexcept {
    return std::min(std::bit_ceil(std::max(c.ring_entries, 1u) * 2), cq_entries_for(c));
}

std::atomic<bool> g_said_cq_fixed{false};

} // namespace

core::result<void> uring_backend::setup(const backend_config& config, int wake_fd) noexcept {
    RB_TRY(setup_ring(_ring, config.ring_entries, _features, cq_entries_for(config), config.shared_ring));
    _ring_ok = true;
    _cq_entries = _ring.cq.ring_entries;
    _cq_max = _cq_entries;
    // A shared ring (a hosted event loop's, which another thread may take over) is not
    // DEFER_TASKRUN, which the kernel's resize needs: it keeps the largest queue.
    if (unsigned first = first_cq_entries(config); first < _cq_entries && _features.defer_taskrun) {
        bool unusable = false;
        int rc = resize_cq(_ring, first, &unusable);
        if (unusable) {
            _ring_ok = false;
            return {core::errc::io_uring_setup, -rc};
        }
        if (rc == 0) {
            _cq_entries = _ring.cq.ring_entries;
        } else if (!g_said_cq_fixed.exchange(true)) {
            core::log(core::log_level::info,
                      "io_uring: the completion queue cannot be resized here (%s; kernel 6.13+): %u entries a "
                      "reactor from the start",
                      std::strerror(-rc), _cq_entries);
        }
    }
    if (counters != nullptr) {
        counters->cq_entries.set(_cq_entries);
    }
    _recv_limit = config.recv_byte_limit;
    bool incremental = config.incremental_buffers && recv_ring::incremental_usable(_ring);
    RB_TRY(_buffers.init(_ring, 1, recv_ring::plan(config.buffer_count, config.buffer_size, incremental)));
    _wake_fd = wake_fd;
    arm_wake();
    return {};
}

io_uring_sqe* uring_backend::get_sqe() noexcept {
    counters->sqes_submitted.add();
    io_uring_sqe* sqe = _unsubmitted.empty() ? io_uring_get_sqe(&_ring) : nullptr; // FIFO behind held ones
    if (sqe == nullptr && _unsubmitted.empty()) [[unlikely]] {
        io_uring_submit(&_ring); // SQ full within one turn: flush early
        counters->submit_calls.add();
        sqe = io_uring_get_sqe(&_ring);
    }
    if (sqe == nullptr) [[unlikely]] {
        // The kernel did not take the queued SQEs (it refused the submit, e.g. with its
        // CQ overflowing): completions must be reaped before it will, and reaping means
        // dispatching, which cannot nest here (this may run inside a dispatch). Prepare
        // the op in a side slot; wait() moves it to the ring in order.
        sqe = &_unsubmitted.emplace_back(); // value-initialized: all zero, like a fresh SQE
    }
    return sqe;
}

bool uring_backend::move_unsubmitted() noexcept {
    size_t moved = 0;
    for (; moved < _unsubmitted.size(); ++moved) {
        io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
        if (sqe == nullptr) {
            io_uring_submit(&_ring);
            counters->submit_calls.add();
            sqe = io_uring_get_sqe(&_ring);
            if (sqe == nullptr) {
                break; // still refused: the rest waits for the next turn
            }
        }
        std::memcpy(sqe, &_unsubmitted[moved], sizeof(*sqe));
    }
    _unsubmitted.erase(_unsubmitted.begin(), _unsubmitted.begin() + static_cast<std::ptrdiff_t>(moved));
    return _unsubmitted.empty();
}

void uring_backend::arm_wake() noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, _wake_fd, &_wake_buf, sizeof(_wake_buf), 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::wake));
}

void uring_backend::arm_accept(int listen_fd) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr, accepted_socket_flags);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::accept));
}

void uring_backend::cancel_accept(int) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, encode_user_data(op::accept), 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::cancel));
}

void uring_backend::arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = _buffers.group_id();
    if (slot >= _recv_generation.size()) [[unlikely]] {
        _recv_generation.resize(std::max<size_t>(slot + 1, _recv_generation.size() * 2));
    }
    _recv_generation[slot] = _buffers.generation();
    if (_recv_limit) {
        sqe->file_index = multishot_recv_limit; // the kernel's `optlen` (same field; liburing 2.3 lacks the name)
    }
    io_uring_sqe_set_data64(sqe, encode_user_data(op::recv, slot, gen));
}

// The same user_data as the multishot recv (one recv per connection at a time, so
// cancel_recv stops either); its completion is told apart by carrying no buffer.
bool uring_backend::arm_recv_into(int fd, uint32_t slot, uint16_t gen, std::span<char> room) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv(sqe, fd, room.data(), room.size(), 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::recv, slot, gen));
    return true;
}

void uring_backend::cancel_recv(int, uint32_t slot, uint16_t gen) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, encode_user_data(op::recv, slot, gen), 0);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::cancel));
}

void uring_backend::send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg, bool more) noexcept {
    io_uring_sqe* sqe = get_sqe();
    int flags = more ? MSG_NOSIGNAL | MSG_MORE : MSG_NOSIGNAL;
    if (msg->msg_iovlen == 1) [[likely]] {
        io_uring_prep_send(sqe, fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len, flags);
    } else {
        io_uring_prep_sendmsg(sqe, fd, msg, static_cast<unsigned>(flags));
    }
    io_uring_sqe_set_data64(sqe, encode_user_data(op::send, slot, gen));
}

void uring_backend::poll_writable(int fd, uint32_t slot, uint16_t gen) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, encode_user_data(op::poll, slot, gen));
}

bool uring_backend::wait(unsigned timeout_ms, io_events& events) noexcept {
    if (!_ring_ok) [[unlikely]] {
        return false; // the resized queues could not be mapped (grow_cq): the ring is closed
    }
    if (!_unsubmitted.empty() && !move_unsubmitted()) [[unlikely]] {
        timeout_ms = 0; // ops still held: reap what is there and try again at once
    }
    io_uring_cqe* cqe = nullptr;
    // A turn that must not wait (a hosted reactor's, after its loop saw the ring's fd
    // readable) with completions posted already: dispatch them without entering the
    // kernel; what this turn queues is submitted at its end (submit()), one
    // io_uring_enter per turn instead of two.
    if (timeout_ms != 0 || !_unsubmitted.empty() || io_uring_cq_ready(&_ring) == 0) {
        __kernel_timespec ts{timeout_ms / 1000, static_cast<long long>(timeout_ms % 1000) * 1'000'000};
        int rc = io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
        counters->submit_calls.add();
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) [[unlikely]] {
            core::log(core::log_level::error, "io_uring_enter failed: %s", std::strerror(-rc));
            return false;
        }
    }
    events.on_wait_end();
    if (IO_URING_READ_ONCE(*_ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW) [[unlikely]] {
        counters->cq_overflows.add(); // completions waited in the kernel's overflow list
        _cq_grow = _cq_entries < _cq_max;
    }
    unsigned head;
    unsigned seen = 0;
    unsigned counted = 0;
    io_uring_for_each_cqe(&_ring, head, cqe) {
        // A send's completion brings no request: only the others count toward the share
        // (a recv and a send complete for each request; counted alike, a turn at
        // thousands of connections held half the requests the bound allows).
        bool counts = decode_user_data(io_uring_cqe_get_data64(cqe)).kind != op::send;
        dispatch(cqe, events);
        ++seen;
        if (counts && ++counted == max_completions_per_wait) {
            break; // the rest in the next turn: the ring's fd stays readable while they wait
        }
    }
    io_uring_cq_advance(&_ring, seen);
    counters->cqes_reaped.add(seen);
    if (_cq_grow) [[unlikely]] {
        grow_cq();
    }
    _buffers.publish(io_uring_cq_ready(&_ring) == 0 && !(IO_URING_READ_ONCE(*_ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW));
    _dgram_buffers.publish();
    return true;
}

void uring_backend::on_second() noexcept {
    _buffers.on_second();
    recv_ring_stats st = _buffers.stats(true);
    counters->recv_buffer_bytes.set(st.resident);
    counters->recv_ring_grows.set(st.grows);
    counters->recv_ring_shrinks.set(st.shrinks);
}

bool uring_backend::submit() noexcept {
    bool held = !_unsubmitted.empty() && !move_unsubmitted();
    io_uring_submit(&_ring);
    counters->submit_calls.add();
    return held;
}

// At the end of a wait that found the queue overflowed (or a later one; only a ring of its
// own grows, and such a reactor's turn submits in its wait): every SQE
// prepared so far goes to the kernel first (the resize copies only what it was given),
// which also moves its overflow list into the room this wait's reap made. Not while
// completions still wait there (the kernel refuses a resize then): the next wait tries
// again.
void uring_backend::grow_cq() noexcept {
    if (!_unsubmitted.empty()) {
        return;
    }
    io_uring_submit(&_ring);
    counters->submit_calls.add();
    if (IO_URING_READ_ONCE(*_ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW) {
        return;
    }
    _cq_grow = false;
    unsigned want = std::min(_cq_entries * 4, _cq_max);
    bool unusable = false;
    int rc = resize_cq(_ring, want, &unusable);
    if (unusable) {
        // The kernel posts into queues this process no longer sees: the reactor stops
        // (wait() fails) rather than wait on them.
        core::log(core::log_level::error, "io_uring: mapping the resized completion queue failed: %s",
                  std::strerror(-rc));
        _ring_ok = false;
        return;
    }
    if (rc != 0) {
        core::log(core::log_level::info, "io_uring: the completion queue stays at %u entries (resize: %s)", _cq_entries,
                  std::strerror(-rc));
        _cq_max = _cq_entries;
        return;
    }
    _cq_entries = _ring.cq.ring_entries;
    counters->cq_entries.set(_cq_entries);
    counters->cq_grows.add();
}

void uring_backend::dispatch(const io_uring_cqe* cqe, io_events& events) noexcept {
    decoded_user_data ud = decode_user_data(io_uring_cqe_get_data64(cqe));
    int res = cqe->res;
    bool more = cqe->flags & IORING_CQE_F_MORE;
    switch (ud.kind) {
    case op::recv: {
        bool has_buffer = cqe->flags & IORING_CQE_F_BUFFER;
        uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (res > 0 && !has_buffer) {
            // arm_recv_into's receive (a multishot recv's bytes always come in a buffer).
            events.on_recv_into(ud.slot, ud.gen, static_cast<size_t>(res));
            break;
        }
        if (res > 0) [[likely]] {
            events.on_recv(ud.slot, ud.gen, _buffers.data(bid), static_cast<size_t>(res));
        }
        if (has_buffer) {
            // Parsed or copied by now: back to the ring, unless the kernel goes on filling it.
            _buffers.consumed(bid, res > 0 ? static_cast<uint32_t>(res) : 0, cqe->flags & IORING_CQE_F_BUF_MORE);
        }
        if (!more) {
            // A multishot recv ends on EOF, error, cancel, when it took its byte limit
            // (multishot_recv_limit), or when the buffer ring ran dry (ENOBUFS: buffers
            // are republished before the next submit): re-armed after the last two.
            // A reset that ends it while our cancel is in flight is an error, not the
            // cancel: the socket reports it once, and a recv armed again would wait forever.
            recv_end how = res == 0                       ? recv_end::eof
                           : (res > 0 || res == -ENOBUFS) ? recv_end::rearm
                           : res == -ECANCELED            ? recv_end::cancelled
                           : res == -EIO                  ? recv_end::tls_record
                           : res == -EBADMSG              ? recv_end::bad_record
                                                          : recv_end::error;
            if (res == -ENOBUFS) {
                // A recv armed on a ring since replaced found no buffers there: armed again
                // on the current one, which is not short of any.
                if (ud.slot >= _recv_generation.size() || _recv_generation[ud.slot] == _buffers.generation()) {
                    counters->enobufs.add();
                    _buffers.ran_dry();
                }
            } else if (res == -EINVAL && _recv_limit) [[unlikely]] {
                // A kernel before 6.17 refuses the byte limit: this recv is armed again,
                // now and from now on without one.
                _recv_limit = false;
                how = recv_end::rearm;
                core::log(core::log_level::info, "io_uring: multishot recv without a byte limit (kernel before 6.17)");
            }
            events.on_recv_end(ud.slot, ud.gen, how);
        }
        break;
    }
    case op::send:
        events.on_send(ud.slot, ud.gen, res);
        break;
    case op::poll:
        events.on_writable(ud.slot, ud.gen, res < 0 ? res : 0);
        break;
    case op::accept:
        if (res >= 0) {
            events.on_accept(res);
        }
        if (!more) {
            events.on_accept_end(res < 0 ? res : -ECANCELED);
        }
        break;
    case op::wake:
        arm_wake();
        break;
    case op::cancel:
        break;
    case op::dgram_recv:
        on_dgram_recv(cqe, events);
        break;
    case op::dgram_send:
        on_dgram_send(cqe, events);
        break;
    }
}

} // namespace ringbolt::uring
