// Owns: what a thread of either load generator does the same way on its io_uring — the
// user_data encoding, a connection's socket bookkeeping and its FIFO of requests or
// messages in flight, and ring_worker, the base that sets up the ring and buffer ring,
// prepares connects, multishot recvs and sends, and runs the loop turn.
//
// Loop turn: take the clock, service the connections (queue due requests, prepare sends
// and recv re-arms), then one io_uring_submit_and_wait_timeout (submit + wait in one
// syscall), then dispatch every completion with the clock read once after the wait.
// The protocols (worker.cpp, ws_worker.cpp) derive from ring_worker (CRTP, so the hooks
// below are direct calls on the hot path) and supply:
//   service(i, now)               arm the recv, start a send of what is due
//   on_phase_timeout(i, now)      connecting (or handshaking) took longer than --timeout
//   drop(i, now, fail_oldest)     close connection i and open a new one
//   failed_opens()                failed attempts to open a connection, for cannot_connect
//   on_bytes(i, data, len, now)   received bytes (res > 0)
//   on_recv_end(i, res, now)      the recv ended: 0 = the peer closed, < 0 = an error
//   on_connect(i, res, now)       the connect completed (res < 0: failed)
//   on_send_failed(i, now)        a send failed
//   on_sent(i)                    a send completed in full
// and may replace service_turn(now, wake) (by default: service every dirty connection).
// A Conn is a conn_socket with an inflight_fifo named `inflight` of slots with a sent_ns.
#pragma once

#include "command_line.hpp"
#include "load_run.hpp"
#include "uring/buffer_ring.hpp"
#include "uring/ring.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringbolt_load {

constexpr uint32_t recv_buffer_size = 16 * 1024;
constexpr int64_t housekeeping_ns = 5'000'000;     // timeout / reconnect scan period
constexpr int64_t connect_backoff_ns = 10'000'000; // after a failed connect

enum class op : uint8_t { connect = 1, recv = 2, send = 3 };

// user_data: op in the top byte, a 24-bit generation (bumped on every close, so late
// completions of a closed socket are recognised), the connection index below.
struct user_data {
    op o;
    uint32_t gen;
    uint32_t index;

    static constexpr uint32_t gen_mask = 0xffffff;

    static uint64_t pack(op o, uint32_t gen, uint32_t index) noexcept {
        return (static_cast<uint64_t>(o) << 56) | (static_cast<uint64_t>(gen & gen_mask) << 32) | index;
    }
    static user_data unpack(uint64_t ud) noexcept {
        return {static_cast<op>(ud >> 56), static_cast<uint32_t>(ud >> 32) & gen_mask, static_cast<uint32_t>(ud)};
    }
};

// A connection's phase. HTTP connections go from connecting straight to open.
enum class conn_state : uint8_t { down, connecting, handshaking, open };

// The socket side of a connection, which each protocol's connection extends.
struct conn_socket {
    int fd = -1;
    uint32_t gen = 0;
    conn_state state = conn_state::down;
    bool recv_armed = false;
    bool send_busy = false;
    bool dirty = false;              // on the worker's dirty list
    const char* send_data = nullptr; // the send in progress: send_len bytes,
    size_t send_len = 0;             // of which send_off are written
    size_t send_off = 0;
    int64_t phase_ns = 0; // when connecting (or handshaking) began
    int64_t retry_at_ns = 0;

    void new_generation() noexcept { gen = (gen + 1) & user_data::gen_mask; }
};

// Requests (or messages) assigned to a connection, in order: [head, head+count), of
// which the last `unsent` wait for the next send. Answers come in order, so the oldest
// is always the one answered.
template <class Slot> class inflight_fifo {
  public:
    void resize(uint32_t depth) { _slots.resize(depth); }
    uint32_t depth() const noexcept { return static_cast<uint32_t>(_slots.size()); }
    uint32_t count() const noexcept { return _count; }
    uint32_t unsent() const noexcept { return _unsent; }
    bool any_sent() const noexcept { return _count > _unsent; }
    bool full() const noexcept { return _count >= _slots.size(); }
    Slot& at(uint32_t i) noexcept { return _slots[(_head + i) % _slots.size()]; }

    void push(const Slot& s) noexcept {
        at(_count) = s;
        ++_count;
        ++_unsent;
    }
    void pop_front() noexcept {
        _head = (_head + 1) % static_cast<uint32_t>(_slots.size());
        --_count;
    }
    // The unsent ones go into a send: returns the index of the first of them.
    uint32_t take_unsent() noexcept {
        uint32_t first = _count - _unsent;
        _unsent = 0;
        return first;
    }
    void clear() noexcept { _head = _count = _unsent = 0; }

  private:
    std::vector<Slot> _slots;
    uint32_t _head = 0;
    uint32_t _count = 0;
    uint32_t _unsent = 0;
};

// One thread of a run: pinned to its CPU (--cpus), its Worker set up (a failure stops
// every thread) and run over connections [first_conn, first_conn + conn_count) with
// `share` of -n (0 = unlimited).
template <class Worker, class Plan, class Stats>
void run_worker_thread(Plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count, uint64_t share,
                       Stats* out) {
    pin_load_thread(*plan.opts, thread_index);
    Worker w(plan, first_conn, conn_count, share, out);
    if (!w.setup()) {
        plan.stop.store(true);
        return;
    }
    w.run();
}

template <class Derived, class Conn, class Stats> class ring_worker {
  protected:
    ring_worker(run_window& window, const common_options& opts, uint32_t first_conn, uint32_t conn_count,
                uint64_t share, Stats* st)
        : _window(window), _target(opts.target), _timeout_ns(static_cast<int64_t>(opts.timeout_ms) * 1000000),
          _first_conn(first_conn), _share(share), _st(st), _conns(conn_count) {}

    ~ring_worker() {
        for (Conn& c : _conns) {
            if (c.fd >= 0) {
                close(c.fd);
            }
        }
        _br.destroy(); // unregistered before its ring goes
        if (_ring_ok) {
            io_uring_queue_exit(&_ring);
        }
    }

    bool setup_ring(uint16_t buffer_group) {
        _buffer_group = buffer_group;
        uint32_t n = static_cast<uint32_t>(_conns.size());
        uint32_t entries = 256;
        while (entries < 2 * n && entries < 32768) {
            entries *= 2;
        }
        // The server's ring set-up (uring/ring.hpp): single-issuer + deferred task work where
        // the kernel has them; a CQ 8x the SQ, for the bursts of multishot recv completions.
        ringbolt::uring::ring_features features;
        if (auto rc = ringbolt::uring::setup_ring(_ring, entries, features, entries * 8); !rc.ok()) {
            _st->setup_error = "io_uring_queue_init: " + ringbolt::uring::describe_setup_failure(rc.sys_errno());
            return false;
        }
        _ring_ok = true;

        // Buffers go back as soon as their bytes are parsed, so a few per connection do.
        uint32_t buf_count = 64;
        while (buf_count < 4 * n && buf_count < 32768) {
            buf_count *= 2;
        }
        if (auto rc = _br.init(_ring, buffer_group, buf_count, recv_buffer_size); !rc.ok()) {
            _st->setup_error = std::string("provided buffer ring: ") + ringbolt::core::errc_name(rc.error()) + ": " +
                               strerror(rc.sys_errno());
            return false;
        }
        return true;
    }

    io_uring_sqe* get_sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
        while (sqe == nullptr) {
            io_uring_submit(&_ring); // the SQ is full: flush it mid-turn
            sqe = io_uring_get_sqe(&_ring);
        }
        return sqe;
    }

    void mark_dirty(uint32_t i) {
        if (!_conns[i].dirty) {
            _conns[i].dirty = true;
            _dirty.push_back(i);
        }
    }

    void start_connect(uint32_t i, int64_t now) {
        Conn& c = _conns[i];
        int fd = socket(_target.family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0) {
            ++_st->errors.connect;
            c.state = conn_state::down;
            c.retry_at_ns = now + connect_backoff_ns;
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.fd = fd;
        c.state = conn_state::connecting;
        c.phase_ns = now;
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&_target.addr), _target.addr_len);
        io_uring_sqe_set_data64(sqe, user_data::pack(op::connect, c.gen, i));
    }

    void arm_recv(uint32_t i) {
        Conn& c = _conns[i];
        if (c.recv_armed) {
            return;
        }
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = _buffer_group;
        io_uring_sqe_set_data64(sqe, user_data::pack(op::recv, c.gen, i));
        c.recv_armed = true;
    }

    // Sends len bytes from data, which stay put until the send completes (short sends
    // are resumed before anything else).
    void start_send(uint32_t i, const char* data, size_t len) {
        Conn& c = _conns[i];
        c.send_data = data;
        c.send_len = len;
        c.send_off = 0;
        prep_send(i);
    }

    // shutdown first: a pending multishot recv holds its own file reference and would
    // otherwise not end on close()
    static void close_socket(Conn& c) {
        shutdown(c.fd, SHUT_RDWR);
        close(c.fd);
        c.fd = -1;
    }

    // After the socket is gone: a new generation, so its late completions are stale.
    static void forget_socket(Conn& c) {
        c.new_generation();
        c.recv_armed = false;
        c.send_busy = false;
        c.send_data = nullptr;
        c.send_len = 0;
        c.send_off = 0;
    }

    bool measured(int64_t t) const noexcept { return t >= _window.measure_ns; }
    bool budget_left() const noexcept { return _share == 0 || _issued < _share; }

    // The default turn: service every connection that asked for it.
    int64_t service_turn(int64_t now, int64_t wake) {
        for (size_t k = 0; k < _dirty.size(); ++k) {
            uint32_t i = _dirty[k];
            _conns[i].dirty = false;
            self().service(i, now);
        }
        _dirty.clear();
        return wake;
    }

    // Every housekeeping_ns: reconnect after the back-off, and time out connects,
    // handshakes and answers.
    void housekeeping(int64_t now) {
        for (uint32_t i = 0; i < _conns.size(); ++i) {
            Conn& c = _conns[i];
            if (c.state == conn_state::down) {
                if (now >= c.retry_at_ns) {
                    start_connect(i, now);
                }
            } else if (c.state != conn_state::open) {
                if (now - c.phase_ns > _timeout_ns) {
                    self().on_phase_timeout(i, now);
                }
            } else if (c.inflight.any_sent() && now - c.inflight.at(0).sent_ns > _timeout_ns) {
                // answers come in order, so one late answer stalls the connection: count
                // it and start over on a fresh one
                ++_st->errors.timeout;
                self().drop(i, now, true);
            }
        }
    }

    // Runs until the window ends, the -n share is done, stop is set or nothing can be
    // opened. Returns the clock of the last turn.
    int64_t run_loop() {
        int64_t now = monotonic_ns();
        for (uint32_t i = 0; i < _conns.size(); ++i) {
            start_connect(i, now);
        }
        _next_housekeeping = now + housekeeping_ns;
        uint32_t n = static_cast<uint32_t>(_conns.size());
        while (!_window.stop.load(std::memory_order_relaxed)) {
            // completions were handled with the time the wait returned; requests queued
            // now start now, not before that batch was processed
            now = monotonic_ns();
            if (now >= _window.end_ns) {
                break;
            }
            if (_share != 0 && _finished >= _share) {
                break;
            }
            if (!_ever_open && self().failed_opens() >= 3 * static_cast<uint64_t>(n) + 3) {
                _st->cannot_connect = true; // nothing listens: do not spin for the whole run
                _window.stop.store(true);
                break;
            }
            if (now >= _next_housekeeping) {
                housekeeping(now);
                _next_housekeeping = now + housekeeping_ns;
            }
            int64_t wake = std::min(_window.end_ns, _next_housekeeping);
            if (!_started) {
                if (now < _window.start_ns) {
                    wake = std::min(wake, _window.start_ns);
                } else {
                    _started = true;
                    for (uint32_t i = 0; i < n; ++i) {
                        mark_dirty(i); // the first turn after the start fills them all
                    }
                }
            }
            wake = self().service_turn(now, wake);
            _br.publish();
            int64_t wait_ns = std::max<int64_t>(0, wake - now);
            __kernel_timespec ts{};
            ts.tv_sec = wait_ns / 1000000000;
            ts.tv_nsec = wait_ns % 1000000000;
            io_uring_cqe* cqe = nullptr;
            int rc = io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
            if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
                _st->setup_error = std::string("io_uring wait: ") + strerror(-rc);
                break;
            }
            now = monotonic_ns();
            unsigned head = 0;
            unsigned seen = 0;
            io_uring_for_each_cqe(&_ring, head, cqe) {
                handle(cqe, now);
                ++seen;
            }
            io_uring_cq_advance(&_ring, seen);
        }
        return now;
    }

    run_window& _window;
    const load_target& _target;
    int64_t _timeout_ns; // --timeout
    uint32_t _first_conn;
    uint64_t _share; // this thread's part of -n (0 = unlimited)
    Stats* _st;
    std::vector<Conn> _conns;
    std::vector<uint32_t> _dirty;
    io_uring _ring{};
    bool _ring_ok = false;
    ringbolt::uring::buffer_ring _br; // the server's own provided-buffer ring
    uint16_t _buffer_group = 0;
    uint64_t _issued = 0;   // measured requests/messages assigned (for -n)
    uint64_t _finished = 0; // measured requests/messages answered or failed (for -n)
    bool _ever_open = false;
    bool _started = false;
    int64_t _next_housekeeping = 0;

  private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }

    void prep_send(uint32_t i) {
        Conn& c = _conns[i];
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_send(sqe, c.fd, c.send_data + c.send_off, c.send_len - c.send_off, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, user_data::pack(op::send, c.gen, i));
        c.send_busy = true;
    }

    void handle(io_uring_cqe* cqe, int64_t now) {
        user_data ud = user_data::unpack(io_uring_cqe_get_data64(cqe));
        uint32_t i = ud.index;
        Conn& c = _conns[i];
        bool stale = ud.gen != c.gen;
        int res = cqe->res;
        if (ud.o == op::recv) {
            bool has_buf = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
            uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            if (!stale) {
                if (!(cqe->flags & IORING_CQE_F_MORE)) {
                    c.recv_armed = false;
                    mark_dirty(i); // re-armed next turn if the connection stays open
                }
                if (res > 0) {
                    if (now >= _window.measure_ns && now <= _window.end_ns) {
                        _st->bytes += static_cast<uint64_t>(res);
                    }
                    self().on_bytes(i, _br.data(bid), static_cast<size_t>(res), now);
                } else if (res != -ENOBUFS) {
                    self().on_recv_end(i, res, now);
                }
                // -ENOBUFS: every buffer was in use; the re-arm above retries
            }
            if (has_buf) {
                _br.recycle(bid); // always, stale or not: the buffer is ours again
            }
            return;
        }
        if (stale) {
            return;
        }
        if (ud.o == op::connect) {
            self().on_connect(i, res, now);
            return;
        }
        if (res < 0) {
            self().on_send_failed(i, now);
            return;
        }
        c.send_off += static_cast<size_t>(res);
        if (c.send_off < c.send_len) {
            prep_send(i); // short send: the rest, before anything else
            return;
        }
        c.send_busy = false;
        self().on_sent(i);
    }
};

} // namespace ringbolt_load
