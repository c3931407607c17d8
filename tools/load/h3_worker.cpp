// Owns: one ringbolt-h3-load thread (see h3_worker.hpp): opening and replacing
// connections, the wait for datagrams or the next timer, the run's window and -n budget,
// and counting what each request became.
#include "h3_worker.hpp"

#include <gnutls/gnutls.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <vector>

namespace ringbolt_load {

namespace {

constexpr int64_t housekeeping_ns = 5'000'000; // request timeouts, handshake timeouts, reconnects
constexpr int64_t reconnect_delay_ns = 10'000'000;

class h3_thread final : public h3_request_events {
  public:
    h3_thread(h3_plan& plan, uint64_t share, thread_stats* st) : _plan(plan), _share(share), _st(st) {}

    bool claim_request(int64_t now) noexcept override {
        if (now < _plan.start_ns || now >= _plan.end_ns || _plan.stop.load(std::memory_order_relaxed)) {
            return false;
        }
        if (now >= _plan.measure_ns) {
            if (_share > 0 && _claimed >= _share) {
                return false;
            }
            ++_claimed;
        }
        return true;
    }
    void response_done(int64_t start_ns, int status, int64_t now) noexcept override {
        if (start_ns < _plan.measure_ns) {
            return;
        }
        ++_settled;
        if (now > _plan.end_ns) {
            return; // finished after the window: not measured
        }
        ++_st->responses;
        ++_st->status[status >= 0 && status < 1000 ? status : 0];
        _st->latency.record(static_cast<uint64_t>((now - start_ns) / 1000));
        _st->last_answer_ns = std::max(_st->last_answer_ns, now);
    }
    void request_failed(int64_t start_ns, h3_failure why, int64_t) noexcept override {
        if (start_ns < _plan.measure_ns) {
            return;
        }
        ++_settled;
        switch (why) {
        case h3_failure::connect:
            ++_st->errors.connect;
            break;
        case h3_failure::read:
            ++_st->errors.read;
            break;
        case h3_failure::timeout:
            ++_st->errors.timeout;
            break;
        }
    }
    void received(size_t bytes, int64_t now) noexcept override {
        if (now >= _plan.measure_ns && now <= _plan.end_ns) {
            _st->bytes += bytes;
        }
    }

    void run(uint32_t first_conn, uint32_t conn_count);

  private:
    struct slot {
        std::unique_ptr<h3_connection> conn;
        int64_t reopen_at = 0; // closed: when to open again
        bool ever_ready = false;
        bool dirty = true; // has something to send, or may start requests
    };

    bool done(int64_t now) const {
        if (_plan.stop.load(std::memory_order_relaxed)) {
            return true;
        }
        if (_share > 0) {
            return _settled >= _share || _server_gone;
        }
        return now >= _plan.end_ns;
    }
    int wait_events(std::vector<epoll_event>& events, int64_t wait_ns);
    void open(size_t i, int64_t now);
    void note_ready(slot& s);
    void drop(size_t i, h3_failure why, int64_t now);
    void housekeeping(int64_t now);

    h3_plan& _plan;
    uint64_t _share;
    thread_stats* _st;
    uint64_t _claimed = 0; // measured requests started
    uint64_t _settled = 0; // measured requests answered or failed
    int _epoll = -1;
    gnutls_certificate_credentials_t _cred = nullptr;
    std::vector<slot> _slots;
    uint64_t _attempts = 0;
    uint64_t _failed_in_a_row = 0; // handshakes that failed since one last succeeded
    bool _any_ready = false;
    bool _server_gone = false; // -n: the server answered, then stopped: end instead of retrying forever
    bool _pwait2 = true;       // epoll_pwait2 (Linux 5.11) waits to the nanosecond; else epoll_wait in ms
};

int h3_thread::wait_events(std::vector<epoll_event>& events, int64_t wait_ns) {
    if (_pwait2) {
        timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
        int n = epoll_pwait2(_epoll, events.data(), static_cast<int>(events.size()), &ts, nullptr);
        if (n >= 0 || errno != ENOSYS) {
            return n;
        }
        _pwait2 = false; // an older kernel, or valgrind
    }
    int ms = static_cast<int>(std::min<int64_t>((wait_ns + 999'999) / 1'000'000, 1000));
    return epoll_wait(_epoll, events.data(), static_cast<int>(events.size()), ms);
}

void h3_thread::open(size_t i, int64_t now) {
    slot& s = _slots[i];
    ++_attempts;
    if (!s.conn->open(now)) {
        ++_st->errors.connect;
        ++_failed_in_a_row;
        s.reopen_at = now + reconnect_delay_ns;
        return;
    }
    s.conn->watch_reads(_epoll, i);
    s.dirty = true;
}

void h3_thread::drop(size_t i, h3_failure why, int64_t now) {
    slot& s = _slots[i];
    bool was_ready = s.conn->state() == h3_connection::phase::ready;
    if (was_ready || s.conn->in_flight() > 0) {
        if (_st->first_error.empty()) {
            _st->first_error = s.conn->error();
        }
    } else {
        ++_st->errors.connect; // never got to HTTP/3
        ++_failed_in_a_row;
        if (_st->first_error.empty()) {
            _st->first_error = s.conn->error();
        }
    }
    s.conn->abandon(why, now); // closing the socket takes it out of the epoll set
    s.reopen_at = now + reconnect_delay_ns;
    if (s.ever_ready) {
        ++_st->reconnects;
    }
}

void h3_thread::housekeeping(int64_t now) {
    const int64_t timeout_ns = static_cast<int64_t>(_plan.opts->timeout_ms) * 1'000'000;
    for (size_t i = 0; i < _slots.size(); ++i) {
        slot& s = _slots[i];
        tend_connection(
            *s.conn, s.reopen_at, now, timeout_ns, [&] { open(i, now); }, [&] { drop(i, h3_failure::connect, now); },
            [&] {
                note_ready(s);
                s.dirty = true;
                if (s.conn->got_goaway() && s.conn->in_flight() == 0) {
                    // the server is shutting down: a new connection, unless a counted run
                    // has claimed all its requests (nothing would go on it)
                    s.conn->close_gracefully(now, INT64_MAX, INT64_MAX);
                    bool more = _share == 0 || _claimed < _share;
                    s.reopen_at = more ? now : INT64_MAX;
                    _st->reconnects += more ? 1 : 0;
                }
            });
    }
    const uint64_t limit = 3 * _slots.size() + 3;
    if (!_any_ready && _attempts >= limit) {
        _st->cannot_connect = true; // nothing answers: do not retry for the whole run
        _plan.stop.store(true);
    } else if (_any_ready && _share > 0 && _failed_in_a_row >= limit) {
        _server_gone = true; // -n could otherwise never be reached
        _st->first_error = "the server stopped answering (" + _st->first_error + ")";
    }
}

void h3_thread::note_ready(slot& s) {
    if (!s.ever_ready) {
        s.ever_ready = true;
        _any_ready = true;
    }
    _failed_in_a_row = 0;
}

void h3_thread::run(uint32_t first_conn, uint32_t conn_count) {
    _epoll = epoll_create1(EPOLL_CLOEXEC);
    if (_epoll < 0 || gnutls_certificate_allocate_credentials(&_cred) != 0) {
        _st->setup_error = std::string("epoll/GnuTLS set-up failed: ") + strerror(errno);
        return;
    }
    for (uint32_t i = 0; i < conn_count; ++i) {
        _slots.push_back(slot{
            std::make_unique<h3_connection>(_plan.request, _plan.opts->target, _plan.opts->pipeline, _cred, *this)});
        if (_plan.opts->rate > 0) {
            // connection g of C: due at start + g/RPS + k*C/RPS, so together they tick at RPS
            double g = first_conn + i;
            _slots.back().conn->schedule(
                _plan.start_ns + static_cast<int64_t>(g * 1e9 / _plan.opts->rate),
                std::max<int64_t>(1, static_cast<int64_t>(_plan.opts->connections * 1e9 / _plan.opts->rate)));
        }
    }
    int64_t now = monotonic_ns();
    for (size_t i = 0; i < _slots.size(); ++i) {
        open(i, now);
    }
    int64_t next_housekeeping = now;
    bool started = false;
    std::vector<epoll_event> events(std::max<size_t>(64, _slots.size()));
    while (!done(now) && !_st->cannot_connect) {
        if (!started && now >= _plan.start_ns) {
            started = true; // every connection may begin its requests
            for (slot& s : _slots) {
                s.dirty = true;
            }
        }
        for (size_t i = 0; i < _slots.size(); ++i) {
            slot& s = _slots[i];
            s.dirty = s.dirty || s.conn->next_due() <= now; // constant rate: a request is due
            if (s.dirty && s.conn->state() != h3_connection::phase::closed) {
                if (!s.conn->flush(now)) {
                    drop(i, h3_failure::read, now);
                    continue;
                }
                s.dirty = s.conn->wants_flush();
            }
        }
        // wait for a datagram, the earliest timer, housekeeping, the start or the end
        int64_t wake = std::min(next_housekeeping, _plan.end_ns);
        if (!started) {
            wake = std::min(wake, _plan.start_ns);
        }
        for (const slot& s : _slots) {
            wake = std::min({wake, s.conn->expiry(), s.conn->next_due()});
        }
        for (const slot& s : _slots) {
            if (s.dirty && s.conn->state() != h3_connection::phase::closed) {
                wake = now; // a flush stopped at its cap: only poll
                break;
            }
        }
        int64_t wait_ns = std::max<int64_t>(0, wake - now);
        int n = wait_events(events, wait_ns);
        if (n < 0 && errno != EINTR) {
            _st->setup_error = std::string("epoll wait: ") + strerror(errno);
            break;
        }
        now = monotonic_ns();
        for (int k = 0; k < n; ++k) {
            size_t i = events[k].data.u64;
            slot& s = _slots[i];
            if (s.conn->state() == h3_connection::phase::closed) {
                continue;
            }
            if (!s.conn->on_readable(now)) {
                drop(i, h3_failure::read, now);
                continue;
            }
            if (s.conn->state() == h3_connection::phase::ready) {
                note_ready(s);
            }
            s.dirty = true;
        }
        for (size_t i = 0; i < _slots.size(); ++i) {
            slot& s = _slots[i];
            if (s.conn->state() != h3_connection::phase::closed && s.conn->expiry() <= now) {
                if (!s.conn->on_timer(now)) {
                    drop(i, h3_failure::read, now);
                    continue;
                }
                s.dirty = true;
            }
        }
        if (now >= next_housekeeping) {
            housekeeping(now);
            next_housekeeping = now + housekeeping_ns;
        }
    }
    now = monotonic_ns();
    for (slot& s : _slots) {
        _st->unfinished += s.conn->close_gracefully(now, _plan.measure_ns, _plan.end_ns);
    }
    _slots.clear();
    gnutls_certificate_free_credentials(_cred);
    close(_epoll);
}

} // namespace

void run_h3_worker(h3_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count,
                   uint64_t request_share, thread_stats* out) {
    pin_load_thread(*plan.opts, thread_index);
    prctl(PR_SET_TIMERSLACK, 1UL); // timed wake-ups (loss timers) on time
    h3_thread t(plan, request_share, out);
    t.run(first_conn, conn_count);
}

} // namespace ringbolt_load
