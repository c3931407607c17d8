// Owns: one ringbolt-load thread's io_uring event loop — connects (IORING_OP_CONNECT),
// multishot recv into a provided buffer ring, one batched send per connection, the
// closed-loop and constant-rate request schedules, timeouts and reconnects.
//
// Loop turn: take the clock, queue due requests and prepare sends/recv re-arms, then
// one io_uring_submit_and_wait_timeout (submit + wait in one syscall), then handle every
// completion with the clock read once after the wait.
#include "worker.hpp"

#include "core/cpu.hpp"
#include "response_parser.hpp"
#include "uring/buffer_ring.hpp"
#include "uring/ring.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace ringbolt_load {

namespace {

constexpr uint16_t buffer_group = 7;
constexpr uint32_t buffer_size = 16 * 1024;
constexpr int64_t housekeeping_ns = 5'000'000;     // timeout / reconnect scan period
constexpr int64_t connect_backoff_ns = 10'000'000; // after a failed connect

enum class op : uint8_t { connect = 1, recv = 2, send = 3 };

// user_data: op in the top byte, a 24-bit generation (bumped on every close, so late
// completions of a closed socket are recognised), the connection index below.
uint64_t pack(op o, uint32_t gen, uint32_t index) noexcept {
    return (static_cast<uint64_t>(o) << 56) | (static_cast<uint64_t>(gen & 0xffffff) << 32) | index;
}

struct request_slot {
    int64_t intended_ns; // latency is measured from here
    int64_t sent_ns;     // 0 until handed to a send; timeouts are measured from here
};

enum class conn_state : uint8_t { down, connecting, open };

struct connection {
    int fd = -1;
    uint32_t gen = 0;
    conn_state state = conn_state::down;
    bool recv_armed = false;
    bool send_busy = false;
    bool dirty = false;
    uint32_t send_len = 0; // bytes of the current send
    uint32_t send_off = 0; // of which already written
    // requests assigned to this connection in order: [head, head+count); the last
    // `unsent` of them wait for the next send
    std::vector<request_slot> slots;
    uint32_t head = 0;
    uint32_t count = 0;
    uint32_t unsent = 0;
    int64_t retry_at_ns = 0;
    int64_t connect_started_ns = 0;
    // constant-rate schedule: request k of this connection is intended at
    // first_ns + k * interval; next_seq is the first one not yet assigned
    int64_t first_ns = 0;
    uint64_t next_seq = 0;
    std::deque<int64_t> requeued; // intended times of requests lost to a close, oldest first
    response_parser parser;

    request_slot& at(uint32_t i) noexcept { return slots[(head + i) % slots.size()]; }
};

class worker {
  public:
    worker(run_plan& plan, uint32_t first_conn, uint32_t conn_count, uint64_t share, thread_stats* st)
        : _plan(plan), _opts(*plan.opts), _first_conn(first_conn), _share(share), _st(st), _conns(conn_count) {}
    ~worker();

    bool setup();
    void run();

  private:
    io_uring_sqe* get_sqe();
    void start_connect(uint32_t i, int64_t now);
    void drop(uint32_t i, int64_t now, bool fail_oldest);
    void mark_dirty(uint32_t i) {
        if (!_conns[i].dirty) {
            _conns[i].dirty = true;
            _dirty.push_back(i);
        }
    }
    void service(uint32_t i, int64_t now);
    int64_t fill_rate(connection& c, int64_t now);
    void fill_closed(connection& c, int64_t now);
    void prep_send(uint32_t i);
    void housekeeping(int64_t now);
    void handle(io_uring_cqe* cqe, int64_t now);
    void on_recv(uint32_t i, const char* data, size_t len, int64_t now);
    bool on_response(uint32_t i, const response_event& ev, int64_t now);
    void recycle(uint16_t bid);
    bool measured(int64_t intended) const noexcept { return intended >= _plan.measure_ns; }
    bool budget_left() const noexcept { return _share == 0 || _issued < _share; }
    void count_finished(int64_t intended) {
        if (measured(intended)) {
            ++_finished;
        }
    }

    run_plan& _plan;
    const options& _opts;
    uint32_t _first_conn;
    uint64_t _share;
    thread_stats* _st;
    std::vector<connection> _conns;
    std::vector<uint32_t> _dirty;
    std::string _send_buf; // the request repeated `pipeline` times
    uint32_t _req_len = 0;
    io_uring _ring{};
    bool _ring_ok = false;
    ringbolt::uring::buffer_ring _br; // the server's own provided-buffer ring
    bool _rate_mode = false;
    double _interval_ns = 0;
    uint64_t _issued = 0;   // measured requests assigned (for -n)
    uint64_t _finished = 0; // measured requests answered or failed (for -n)
    bool _ever_connected = false;
    bool _started = false;
    int64_t _next_housekeeping = 0;
};

worker::~worker() {
    for (connection& c : _conns) {
        if (c.fd >= 0) {
            close(c.fd);
        }
    }
    _br.destroy(); // unregistered before its ring goes
    if (_ring_ok) {
        io_uring_queue_exit(&_ring);
    }
}

bool worker::setup() {
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
    if (auto rc = _br.init(_ring, buffer_group, buf_count, buffer_size); !rc.ok()) {
        _st->setup_error =
            std::string("provided buffer ring: ") + ringbolt::errc_name(rc.error()) + ": " + strerror(rc.sys_errno());
        return false;
    }

    _req_len = static_cast<uint32_t>(_plan.request.size());
    for (uint32_t k = 0; k < _opts.pipeline; ++k) {
        _send_buf += _plan.request;
    }
    _rate_mode = _opts.rate > 0;
    // each connection carries rate/connections requests per second; connection g's
    // schedule is offset by g/rate so the connections together tick evenly
    _interval_ns = _rate_mode ? 1e9 * _opts.connections / _opts.rate : 0;
    for (uint32_t i = 0; i < n; ++i) {
        connection& c = _conns[i];
        c.slots.resize(_opts.pipeline);
        c.parser.set_head_request(_opts.method == "HEAD");
        if (_rate_mode) {
            c.first_ns = _plan.start_ns + static_cast<int64_t>(1e9 * (_first_conn + i) / _opts.rate);
        }
    }
    return true;
}

void worker::recycle(uint16_t bid) {
    _br.recycle(bid);
}

io_uring_sqe* worker::get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
    while (sqe == nullptr) {
        io_uring_submit(&_ring); // the SQ is full: flush it mid-turn
        sqe = io_uring_get_sqe(&_ring);
    }
    return sqe;
}

void worker::start_connect(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    int fd = socket(_opts.target.family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
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
    c.connect_started_ns = now;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&_opts.target.addr), _opts.target.addr_len);
    io_uring_sqe_set_data64(sqe, pack(op::connect, c.gen, i));
}

// Close connection i and open a new one. Requests that were assigned but not answered
// are handed back: in constant-rate mode with their intended times (they are still
// owed, and their wait counts), in closed-loop mode simply re-issued. With fail_oldest
// the oldest sent request is counted as failed instead, so that a server which keeps
// failing cannot hold a -n run forever.
void worker::drop(uint32_t i, int64_t now, bool fail_oldest) {
    connection& c = _conns[i];
    if (c.fd >= 0) {
        // shutdown first: a pending multishot recv holds its own file reference and
        // would otherwise not end on close()
        shutdown(c.fd, SHUT_RDWR);
        close(c.fd);
        c.fd = -1;
    }
    c.gen = (c.gen + 1) & 0xffffff;
    c.recv_armed = false;
    c.send_busy = false;
    c.send_len = 0;
    c.send_off = 0;
    uint32_t first = 0;
    if (fail_oldest && c.count > c.unsent) {
        count_finished(c.at(0).intended_ns);
        first = 1;
    }
    for (uint32_t k = c.count; k > first; --k) {
        int64_t intended = c.at(k - 1).intended_ns;
        if (_rate_mode) {
            c.requeued.push_front(intended); // these are older than anything requeued before
        } else if (measured(intended)) {
            --_issued; // re-issued later with a fresh start time
        }
    }
    c.head = 0;
    c.count = 0;
    c.unsent = 0;
    c.parser.reset();
    c.state = conn_state::down;
    if (_ever_connected) {
        ++_st->reconnects;
    }
    start_connect(i, now);
}

// Constant-rate mode: assign every request whose intended time has come (re-queued
// ones first), up to the pipeline depth. Returns when the next one falls due.
int64_t worker::fill_rate(connection& c, int64_t now) {
    uint32_t depth = static_cast<uint32_t>(c.slots.size());
    while (c.count < depth && budget_left()) {
        int64_t intended = 0;
        if (!c.requeued.empty()) {
            intended = c.requeued.front();
            c.requeued.pop_front();
        } else {
            intended = c.first_ns + static_cast<int64_t>(std::llround(c.next_seq * _interval_ns));
            if (intended > now) {
                return intended;
            }
            ++c.next_seq;
        }
        if (measured(intended)) {
            ++_issued;
        }
        c.at(c.count) = request_slot{intended, 0};
        ++c.count;
        ++c.unsent;
    }
    // full (or the -n budget is spent): nothing falls due before a response frees a slot
    return INT64_MAX;
}

// Closed-loop mode: keep `pipeline` requests assigned, each starting now.
void worker::fill_closed(connection& c, int64_t now) {
    uint32_t depth = static_cast<uint32_t>(c.slots.size());
    while (c.count < depth && budget_left()) {
        if (measured(now)) {
            ++_issued;
        }
        c.at(c.count) = request_slot{now, 0};
        ++c.count;
        ++c.unsent;
    }
}

void worker::prep_send(uint32_t i) {
    connection& c = _conns[i];
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, c.fd, _send_buf.data() + c.send_off, c.send_len - c.send_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, pack(op::send, c.gen, i));
    c.send_busy = true;
}

// Arm the receive and start a send of whatever is assigned and unsent.
void worker::service(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    if (c.state != conn_state::open) {
        return;
    }
    if (!c.recv_armed) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffer_group;
        io_uring_sqe_set_data64(sqe, pack(op::recv, c.gen, i));
        c.recv_armed = true;
    }
    if (!_rate_mode && now >= _plan.start_ns) {
        // nothing before the common start: with -n and no warm-up, the server then
        // sees exactly the requests that are measured
        fill_closed(c, now);
    }
    if (!c.send_busy && c.unsent > 0) {
        // all requests are the same bytes, so k of them are the first k copies
        for (uint32_t k = c.count - c.unsent; k < c.count; ++k) {
            c.at(k).sent_ns = now;
        }
        c.send_len = c.unsent * _req_len;
        c.send_off = 0;
        c.unsent = 0;
        prep_send(i);
    }
}

void worker::housekeeping(int64_t now) {
    int64_t timeout_ns = static_cast<int64_t>(_opts.timeout_ms) * 1000000;
    for (uint32_t i = 0; i < _conns.size(); ++i) {
        connection& c = _conns[i];
        if (c.state == conn_state::down) {
            if (now >= c.retry_at_ns) {
                start_connect(i, now);
            }
        } else if (c.state == conn_state::connecting) {
            if (now - c.connect_started_ns > timeout_ns) {
                ++_st->errors.connect;
                c.gen = (c.gen + 1) & 0xffffff;
                close(c.fd);
                c.fd = -1;
                start_connect(i, now);
            }
        } else if (c.count > c.unsent && now - c.at(0).sent_ns > timeout_ns) {
            // responses come in order, so one late response stalls the connection:
            // count it and start over on a fresh one
            ++_st->errors.timeout;
            drop(i, now, true);
        }
    }
}

bool worker::on_response(uint32_t i, const response_event& ev, int64_t now) {
    connection& c = _conns[i];
    if (c.count == c.unsent) {
        ++_st->errors.parse; // a response to nothing we sent
        drop(i, now, false);
        return false;
    }
    int64_t intended = c.at(0).intended_ns;
    c.head = (c.head + 1) % static_cast<uint32_t>(c.slots.size());
    --c.count;
    if (measured(intended) && now <= _plan.end_ns) {
        ++_finished;
        ++_st->responses;
        _st->status[ev.status < 1000 ? ev.status : 0] += 1;
        _st->latency.record(static_cast<uint64_t>((now - intended) / 1000));
        _st->last_response_ns = now;
    }
    if (ev.close) {
        drop(i, now, false); // the server said so: not an error
        return false;
    }
    if (!_rate_mode) {
        mark_dirty(i); // refill the pipeline
    }
    return true;
}

void worker::on_recv(uint32_t i, const char* data, size_t len, int64_t now) {
    connection& c = _conns[i];
    while (len > 0) {
        size_t used = 0;
        response_event ev;
        if (c.parser.feed(data, len, &used, &ev) != response_parser::result::ok) {
            ++_st->errors.parse;
            drop(i, now, true);
            return;
        }
        data += used;
        len -= used;
        if (ev.complete && !on_response(i, ev, now)) {
            return; // connection closed: the rest of the bytes belong to nothing
        }
    }
}

void worker::handle(io_uring_cqe* cqe, int64_t now) {
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    op o = static_cast<op>(ud >> 56);
    uint32_t gen = static_cast<uint32_t>(ud >> 32) & 0xffffff;
    uint32_t i = static_cast<uint32_t>(ud);
    connection& c = _conns[i];
    bool stale = gen != c.gen;
    int res = cqe->res;
    if (o == op::recv) {
        bool has_buf = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
        uint16_t bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (!stale) {
            if (!(cqe->flags & IORING_CQE_F_MORE)) {
                c.recv_armed = false;
                mark_dirty(i); // re-armed next turn if the connection stays open
            }
            if (res > 0) {
                if (now >= _plan.measure_ns && now <= _plan.end_ns) {
                    _st->bytes += static_cast<uint64_t>(res);
                }
                on_recv(i, _br.data(bid), static_cast<size_t>(res), now);
            } else if (res == 0) {
                response_event ev;
                bool mid = false;
                if (c.parser.on_eof(&ev, &mid)) {
                    on_response(i, ev, now); // the body ended with the connection
                    if (c.gen == gen) {
                        drop(i, now, false);
                    }
                } else if (mid || c.count > c.unsent) {
                    ++_st->errors.read; // closed with our requests outstanding
                    drop(i, now, true);
                } else {
                    drop(i, now, false); // an idle keep-alive connection was closed
                }
            } else if (res != -ENOBUFS) {
                ++_st->errors.read;
                drop(i, now, true);
            }
            // -ENOBUFS: every buffer was in use; the re-arm above retries
        }
        if (has_buf) {
            recycle(bid); // always, stale or not: the buffer is ours again
        }
        return;
    }
    if (stale) {
        return;
    }
    if (o == op::connect) {
        if (res < 0) {
            ++_st->errors.connect;
            close(c.fd);
            c.fd = -1;
            c.gen = (c.gen + 1) & 0xffffff;
            c.state = conn_state::down;
            c.retry_at_ns = now + connect_backoff_ns;
            return;
        }
        c.state = conn_state::open;
        _ever_connected = true;
        mark_dirty(i);
        return;
    }
    // send
    if (res < 0) {
        ++_st->errors.write;
        drop(i, now, true);
        return;
    }
    c.send_off += static_cast<uint32_t>(res);
    if (c.send_off < c.send_len) {
        prep_send(i); // short send: the rest, before anything else
        return;
    }
    c.send_busy = false;
    if (c.unsent > 0) {
        mark_dirty(i);
    }
}

void worker::run() {
    int64_t now = monotonic_ns();
    for (uint32_t i = 0; i < _conns.size(); ++i) {
        start_connect(i, now);
    }
    _next_housekeeping = now + housekeeping_ns;
    uint32_t n = static_cast<uint32_t>(_conns.size());
    while (!_plan.stop.load(std::memory_order_relaxed)) {
        // completions were handled with the time the wait returned; requests queued
        // now start now, not before that batch was processed
        now = monotonic_ns();
        if (now >= _plan.end_ns) {
            break;
        }
        if (_share != 0 && _finished >= _share) {
            break;
        }
        if (!_ever_connected && _st->errors.connect >= 3 * static_cast<uint64_t>(n) + 3) {
            _st->cannot_connect = true; // nothing listens: do not spin for the whole run
            _plan.stop.store(true);
            break;
        }
        if (now >= _next_housekeeping) {
            housekeeping(now);
            _next_housekeeping = now + housekeeping_ns;
        }
        int64_t wake = std::min(_plan.end_ns, _next_housekeeping);
        if (!_started) {
            if (now < _plan.start_ns) {
                wake = std::min(wake, _plan.start_ns);
            } else {
                _started = true;
                for (uint32_t i = 0; i < n; ++i) {
                    mark_dirty(i); // the first turn after the start fills them all
                }
            }
        }
        if (_rate_mode) {
            // every connection's schedule is checked every turn: the rate is bounded,
            // and so is the number of turns
            for (uint32_t i = 0; i < n; ++i) {
                connection& c = _conns[i];
                int64_t due = fill_rate(c, now);
                if (c.state == conn_state::open) {
                    wake = std::min(wake, due);
                    service(i, now);
                }
                c.dirty = false;
            }
            _dirty.clear();
        } else {
            for (size_t k = 0; k < _dirty.size(); ++k) {
                uint32_t i = _dirty[k];
                _conns[i].dirty = false;
                service(i, now);
            }
            _dirty.clear();
        }
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
    // what was due inside the window and never answered (in flight, or backlog of a
    // connection that fell behind) is reported, not silently forgotten
    int64_t end = std::min(now, _plan.end_ns);
    for (connection& c : _conns) {
        for (uint32_t k = 0; k < c.count; ++k) {
            if (measured(c.at(k).intended_ns)) {
                ++_st->unfinished;
            }
        }
        for (int64_t t : c.requeued) {
            if (measured(t)) {
                ++_st->unfinished;
            }
        }
        if (_rate_mode && budget_left()) {
            for (uint64_t s = c.next_seq;; ++s) {
                int64_t t = c.first_ns + static_cast<int64_t>(std::llround(s * _interval_ns));
                if (t > end) {
                    break;
                }
                if (measured(t)) {
                    ++_st->unfinished;
                }
            }
        }
    }
}

} // namespace

void run_worker(run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count, uint64_t request_share,
                thread_stats* out) {
    const options& o = *plan.opts;
    if (!o.cpus.empty()) {
        ringbolt::pin_current_thread(o.cpus[thread_index % o.cpus.size()]);
    }
    // constant-rate sends wake on timers: the default 50 us timer slack would add up
    // to 50 us of our own lateness to every scheduled send
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    worker w(plan, first_conn, conn_count, request_share, out);
    if (!w.setup()) {
        plan.stop.store(true);
        return;
    }
    w.run();
}

} // namespace ringbolt_load
