// Owns: one ringbolt-load thread's io_uring event loop — connects (IORING_OP_CONNECT),
// multishot recv into a provided buffer ring, one batched send per connection, the
// closed-loop and constant-rate request schedules, timeouts and reconnects.
//
// Loop turn: take the clock, queue due requests and prepare sends/recv re-arms, then
// one io_uring_submit_and_wait_timeout (submit + wait in one syscall), then handle every
// completion with the clock read once after the wait.
// Owns: one ringbolt-load thread's HTTP/1.1 protocol on top of ring_worker.hpp (which
// owns the ring, connects, recv/send submission and the loop turn): the closed-loop and
// constant-rate request schedules, one batched send of pipelined requests per
// connection, response parsing, timeouts and reconnects.
#include "worker.hpp"

#include "response_parser.hpp"
#include "ring_worker.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringbolt_load {

namespace {

constexpr uint16_t buffer_group = 7;

struct request_slot {
    int64_t intended_ns; // latency is measured from here
    int64_t sent_ns;     // 0 until handed to a send; timeouts are measured from here
};

struct connection : conn_socket {
    inflight_fifo<request_slot> inflight; // requests
    // constant-rate schedule: request k of this connection is intended at
    // first_ns + k * interval; next_seq is the first one not yet assigned
    int64_t first_ns = 0;
    uint64_t next_seq = 0;
    std::deque<int64_t> requeued; // intended times of requests lost to a close, oldest first
    response_parser parser;
};

class worker : ring_worker<worker, connection, thread_stats> {
  public:
    worker(run_plan& plan, uint32_t first_conn, uint32_t conn_count, uint64_t share, thread_stats* st)
        : ring_worker(plan, *plan.opts, first_conn, conn_count, share, st), _plan(plan), _opts(*plan.opts) {}

    bool setup();
    void run();

  private:
    friend class ring_worker<worker, connection, thread_stats>;

    void drop(uint32_t i, int64_t now, bool fail_oldest);
    void service(uint32_t i, int64_t now);
    int64_t service_turn(int64_t now, int64_t wake);
    int64_t fill_rate(connection& c, int64_t now);
    void fill_closed(connection& c, int64_t now);
    void on_phase_timeout(uint32_t i, int64_t now);
    uint64_t failed_opens() const noexcept { return _st->errors.connect; }
    void on_bytes(uint32_t i, const char* data, size_t len, int64_t now);
    void on_recv_end(uint32_t i, int res, int64_t now);
    void on_connect(uint32_t i, int res, int64_t now);
    void on_send_failed(uint32_t i, int64_t now);
    void on_sent(uint32_t i);
    bool on_response(uint32_t i, const response_event& ev, int64_t now);
    void count_finished(int64_t intended) {
        if (measured(intended)) {
            ++_finished;
        }
    }

    const run_plan& _plan;
    const options& _opts;
    std::string _send_buf; // the request repeated `pipeline` times
    uint32_t _req_len = 0;
    bool _rate_mode = false;
    double _interval_ns = 0;
};

bool worker::setup() {
    if (!setup_ring(buffer_group)) {
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
    for (uint32_t i = 0; i < _conns.size(); ++i) {
        connection& c = _conns[i];
        c.inflight.resize(_opts.pipeline);
        c.parser.set_head_request(_opts.method == "HEAD");
        if (_rate_mode) {
            c.first_ns = _plan.start_ns + static_cast<int64_t>(1e9 * (_first_conn + i) / _opts.rate);
        }
    }
    return true;
}

// Close connection i and open a new one. Requests that were assigned but not answered
// are handed back: in constant-rate mode with their intended times (they are still
// owed, and their wait counts), in closed-loop mode simply re-issued. With fail_oldest
// the oldest sent request is counted as failed instead, so that a server which keeps
// failing cannot hold a -n run forever.
void worker::drop(uint32_t i, int64_t now, bool fail_oldest) {
    connection& c = _conns[i];
    if (c.fd >= 0) {
        close_socket(c);
    }
    forget_socket(c);
    uint32_t first = 0;
    if (fail_oldest && c.inflight.any_sent()) {
        count_finished(c.inflight.at(0).intended_ns);
        first = 1;
    }
    for (uint32_t k = c.inflight.count(); k > first; --k) {
        int64_t intended = c.inflight.at(k - 1).intended_ns;
        if (_rate_mode) {
            c.requeued.push_front(intended); // these are older than anything requeued before
        } else if (measured(intended)) {
            --_issued; // re-issued later with a fresh start time
        }
    }
    c.inflight.clear();
    c.parser.reset();
    c.state = conn_state::down;
    if (_ever_open) {
        ++_st->reconnects;
    }
    start_connect(i, now);
}

// Constant-rate mode: assign every request whose intended time has come (re-queued
// ones first), up to the pipeline depth. Returns when the next one falls due.
int64_t worker::fill_rate(connection& c, int64_t now) {
    while (!c.inflight.full() && budget_left()) {
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
        c.inflight.push(request_slot{intended, 0});
    }
    // full (or the -n budget is spent): nothing falls due before a response frees a slot
    return INT64_MAX;
}

// Closed-loop mode: keep `pipeline` requests assigned, each starting now.
void worker::fill_closed(connection& c, int64_t now) {
    while (!c.inflight.full() && budget_left()) {
        if (measured(now)) {
            ++_issued;
        }
        c.inflight.push(request_slot{now, 0});
    }
}

// Arm the receive and start a send of whatever is assigned and unsent.
void worker::service(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    if (c.state != conn_state::open) {
        return;
    }
    arm_recv(i);
    if (!_rate_mode && now >= _plan.start_ns) {
        // nothing before the common start: with -n and no warm-up, the server then
        // sees exactly the requests that are measured
        fill_closed(c, now);
    }
    if (!c.send_busy && c.inflight.unsent() > 0) {
        // all requests are the same bytes, so k of them are the first k copies
        uint32_t n = c.inflight.unsent();
        for (uint32_t k = c.inflight.take_unsent(); k < c.inflight.count(); ++k) {
            c.inflight.at(k).sent_ns = now;
        }
        start_send(i, _send_buf.data(), static_cast<size_t>(n) * _req_len);
    }
}

int64_t worker::service_turn(int64_t now, int64_t wake) {
    if (!_rate_mode) {
        return ring_worker::service_turn(now, wake);
    }
    // every connection's schedule is checked every turn: the rate is bounded, and so
    // is the number of turns
    for (uint32_t i = 0; i < _conns.size(); ++i) {
        connection& c = _conns[i];
        int64_t due = fill_rate(c, now);
        if (c.state == conn_state::open) {
            wake = std::min(wake, due);
            service(i, now);
        }
        c.dirty = false;
    }
    _dirty.clear();
    return wake;
}

void worker::on_phase_timeout(uint32_t i, int64_t now) {
    connection& c = _conns[i];
    ++_st->errors.connect;
    c.new_generation();
    close(c.fd);
    c.fd = -1;
    start_connect(i, now);
}

bool worker::on_response(uint32_t i, const response_event& ev, int64_t now) {
    connection& c = _conns[i];
    if (!c.inflight.any_sent()) {
        ++_st->errors.parse; // a response to nothing we sent
        drop(i, now, false);
        return false;
    }
    int64_t intended = c.inflight.at(0).intended_ns;
    c.inflight.pop_front();
    if (measured(intended) && now <= _plan.end_ns) {
        ++_finished;
        ++_st->responses;
        _st->status[ev.status < 1000 ? ev.status : 0] += 1;
        _st->latency.record(static_cast<uint64_t>((now - intended) / 1000));
        _st->last_answer_ns = now;
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

void worker::on_bytes(uint32_t i, const char* data, size_t len, int64_t now) {
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

void worker::on_recv_end(uint32_t i, int res, int64_t now) {
    connection& c = _conns[i];
    if (res < 0) {
        ++_st->errors.read;
        drop(i, now, true);
        return;
    }
    response_event ev;
    bool mid = false;
    if (c.parser.on_eof(&ev, &mid)) {
        uint32_t gen = c.gen;
        on_response(i, ev, now); // the body ended with the connection
        if (c.gen == gen) {
            drop(i, now, false);
        }
    } else if (mid || c.inflight.any_sent()) {
        ++_st->errors.read; // closed with our requests outstanding
        drop(i, now, true);
    } else {
        drop(i, now, false); // an idle keep-alive connection was closed
    }
}

void worker::on_connect(uint32_t i, int res, int64_t now) {
    connection& c = _conns[i];
    if (res < 0) {
        ++_st->errors.connect;
        close(c.fd);
        c.fd = -1;
        c.new_generation();
        c.state = conn_state::down;
        c.retry_at_ns = now + connect_backoff_ns;
        return;
    }
    c.state = conn_state::open;
    _ever_open = true;
    mark_dirty(i);
}

void worker::on_send_failed(uint32_t i, int64_t now) {
    ++_st->errors.write;
    drop(i, now, true);
}

void worker::on_sent(uint32_t i) {
    if (_conns[i].inflight.unsent() > 0) {
        mark_dirty(i);
    }
}

void worker::run() {
    int64_t now = run_loop();
    // what was due inside the window and never answered (in flight, or backlog of a
    // connection that fell behind) is reported, not silently forgotten
    int64_t end = std::min(now, _plan.end_ns);
    for (connection& c : _conns) {
        for (uint32_t k = 0; k < c.inflight.count(); ++k) {
            if (measured(c.inflight.at(k).intended_ns)) {
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
    // constant-rate sends wake on timers: the default 50 us timer slack would add up
    // to 50 us of our own lateness to every scheduled send
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    run_worker_thread<worker>(plan, thread_index, first_conn, conn_count, request_share, out);
}

} // namespace ringbolt_load
