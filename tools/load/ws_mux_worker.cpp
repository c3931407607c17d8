// Owns: one ringbolt-ws-load --http2/--http3 thread (see ws_mux_worker.hpp): opening and
// replacing connections, the wait for bytes or the next timer, the run's window and -n
// budget. The streams' echoes are ws_stream_echo's; the protocols are h2_connection's and
// h3_connection's, which show this loop the same surface.
#include "ws_mux_worker.hpp"

#include "h2_connection.hpp"
#include "h3_connection.hpp"
#include "ws_stream_echo.hpp"

#include <gnutls/gnutls.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <random>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <type_traits>
#include <unistd.h>
#include <vector>

namespace ringbolt_load {

namespace {

constexpr int64_t housekeeping_ns = 5'000'000; // deadlines, handshake timeouts, reconnects
constexpr int64_t reconnect_delay_ns = 10'000'000;

// The extended CONNECT every stream sends (RFC 8441 §4, RFC 9220 §3).
h3_request connect_request(const ws_options& o) {
    h3_request r = h3_request::build("CONNECT", o.target, {"sec-websocket-version: 13"}, "", false);
    r.fields[1].second = o.http_version == 3 ? "https" : "http"; // h2c for HTTP/2
    r.fields.insert(r.fields.begin() + 4, {":protocol", "websocket"});
    return r;
}

template <class Conn> class mux_thread final : public h3_request_events {
  public:
    mux_thread(ws_run_plan& plan, ws_stream_context& ctx) : _plan(plan), _opts(*plan.opts), _ctx(ctx) {}

    bool claim_request(int64_t now) noexcept override {
        return !done(now) && now < _plan.end_ns && now >= _ctx.retry_at;
    }
    void response_done(int64_t, int, int64_t) noexcept override {}
    void request_failed(int64_t, h3_failure, int64_t) noexcept override {}
    void received(size_t bytes, int64_t now) noexcept override {
        if (now >= _plan.measure_ns && now <= _plan.end_ns) {
            _ctx.st->bytes += bytes;
        }
    }
    std::unique_ptr<load_tunnel> open_tunnel(int64_t now) override {
        if (++_tunnels > static_cast<uint64_t>(_slots.size()) * _opts.streams) {
            ++_ctx.st->reconnects; // a stream in place of one that ended
        }
        return std::make_unique<ws_stream_echo>(_ctx, now);
    }

    void run(uint32_t conn_count, gnutls_certificate_credentials_t cred);

  private:
    struct slot {
        std::unique_ptr<Conn> conn;
        int64_t reopen_at = 0;
        bool ever_ready = false;
        bool writing = false; // registered for EPOLLOUT
    };

    bool done(int64_t now) const {
        if (_plan.stop.load(std::memory_order_relaxed)) {
            return true;
        }
        if (_ctx.share > 0) {
            return _ctx.finished >= _ctx.share;
        }
        return now >= _plan.end_ns;
    }
    void open(size_t i, int64_t now);
    void drop(size_t i, int64_t now);
    void housekeeping(int64_t now);
    void watch(size_t i);

    ws_run_plan& _plan;
    const ws_options& _opts;
    ws_stream_context& _ctx;
    std::vector<slot> _slots;
    int _epoll = -1;
    uint64_t _tunnels = 0;
    uint64_t _attempts = 0;
    bool _any_ready = false;
};

template <class Conn> void mux_thread<Conn>::open(size_t i, int64_t now) {
    slot& s = _slots[i];
    ++_attempts;
    if (!s.conn->open(now)) {
        ++_ctx.st->errors.connect;
        _ctx.note_error(s.conn->error());
        s.reopen_at = now + reconnect_delay_ns;
        return;
    }
    s.conn->watch_reads(_epoll, i);
    s.writing = false;
}

// Waits for EPOLLOUT exactly while the connection has bytes the socket did not take.
template <class Conn> void mux_thread<Conn>::watch(size_t i) {
    slot& s = _slots[i];
    bool want = s.conn->wants_write();
    if (want != s.writing && s.conn->fd() >= 0) {
        epoll_event ev{};
        ev.events = want ? EPOLLIN | EPOLLOUT : EPOLLIN;
        ev.data.u64 = i;
        epoll_ctl(_epoll, EPOLL_CTL_MOD, s.conn->fd(), &ev);
        s.writing = want;
    }
}

template <class Conn> void mux_thread<Conn>::drop(size_t i, int64_t now) {
    slot& s = _slots[i];
    if (s.conn->state() != Conn::phase::ready) {
        ++_ctx.st->errors.connect; // never got to carry WebSockets
    }
    _ctx.note_error(s.conn->error());
    s.conn->abandon(h3_failure::read, now); // closing the socket takes it out of the epoll set
    s.reopen_at = now + reconnect_delay_ns;
    if (s.ever_ready) {
        ++_ctx.st->reconnects;
    }
}

template <class Conn> void mux_thread<Conn>::housekeeping(int64_t now) {
    const int64_t timeout_ns = static_cast<int64_t>(_opts.timeout_ms) * 1'000'000;
    for (size_t i = 0; i < _slots.size(); ++i) {
        slot& s = _slots[i];
        tend_connection(
            *s.conn, s.reopen_at, now, timeout_ns, [&] { open(i, now); }, [&] { drop(i, now); },
            [&] {
                s.ever_ready = true;
                _any_ready = true;
            });
    }
    // nothing answers, or no extended CONNECT was ever accepted: do not retry for the whole run
    const uint64_t limit = 3 * _slots.size() + 3;
    if (!_ctx.any_accepted &&
        ((!_any_ready && _attempts >= limit) || _ctx.st->errors.handshake >= limit * _opts.streams)) {
        _ctx.st->cannot_connect = true;
        _plan.stop.store(true);
    }
}

template <class Conn> void mux_thread<Conn>::run(uint32_t conn_count, gnutls_certificate_credentials_t cred) {
    _epoll = epoll_create1(EPOLL_CLOEXEC);
    if (_epoll < 0) {
        _ctx.st->setup_error = std::string("epoll_create1: ") + strerror(errno);
        return;
    }
    const h3_request request = connect_request(_opts);
    for (uint32_t i = 0; i < conn_count; ++i) {
        if constexpr (std::is_same_v<Conn, h3_connection>) {
            _slots.push_back(slot{std::make_unique<Conn>(request, _opts.target, _opts.streams, cred, *this)});
        } else {
            _slots.push_back(slot{std::make_unique<Conn>(request, _opts.target, _opts.streams, *this)});
        }
    }
    int64_t now = monotonic_ns();
    for (size_t i = 0; i < _slots.size(); ++i) {
        open(i, now);
    }
    int64_t next_housekeeping = now;
    std::vector<epoll_event> events(std::max<size_t>(64, _slots.size()));
    while (!done(now) && !_ctx.st->cannot_connect) {
        for (size_t i = 0; i < _slots.size(); ++i) {
            if (_slots[i].conn->state() != Conn::phase::closed) {
                if (!_slots[i].conn->flush(now)) {
                    drop(i, now);
                    continue;
                }
                watch(i);
            }
        }
        int64_t wake = std::min(next_housekeeping, _plan.end_ns);
        if (now < _plan.start_ns) {
            wake = std::min(wake, _plan.start_ns);
        }
        for (const slot& s : _slots) {
            wake = std::min(wake, s.conn->expiry());
            if (s.conn->wants_flush()) {
                wake = now;
            }
        }
        int64_t wait_ns = std::max<int64_t>(0, wake - now);
        timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
        int n = epoll_pwait2(_epoll, events.data(), static_cast<int>(events.size()), &ts, nullptr);
        if (n < 0 && errno != EINTR) {
            _ctx.st->setup_error = std::string("epoll_pwait2: ") + strerror(errno);
            break;
        }
        now = monotonic_ns();
        for (int k = 0; k < n; ++k) {
            size_t i = events[k].data.u64;
            slot& s = _slots[i];
            if (s.conn->state() != Conn::phase::closed && (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 &&
                !s.conn->on_readable(now)) {
                drop(i, now);
            }
        }
        for (size_t i = 0; i < _slots.size(); ++i) {
            slot& s = _slots[i];
            if (s.conn->state() != Conn::phase::closed && s.conn->expiry() <= now && !s.conn->on_timer(now)) {
                drop(i, now);
            }
        }
        if (now >= next_housekeeping) {
            housekeeping(now);
            next_housekeeping = now + housekeeping_ns;
        }
    }
    now = monotonic_ns();
    for (slot& s : _slots) {
        s.conn->close_gracefully(now, _plan.measure_ns, _plan.end_ns);
    }
    _slots.clear();
    close(_epoll);
}

} // namespace

void run_ws_mux_worker(ws_run_plan& plan, uint32_t thread_index, uint32_t first_conn, uint32_t conn_count,
                       uint64_t message_share, ws_thread_stats* out) {
    const ws_options& o = *plan.opts;
    pin_load_thread(o, thread_index);
    prctl(PR_SET_TIMERSLACK, 1UL); // timed wake-ups (loss timers) on time
    std::random_device rd;
    ws_echo_template tpl(o.size, o.text, (static_cast<uint64_t>(rd()) << 32) ^ rd());
    ws_stream_context ctx{plan, tpl, out, message_share};
    ctx.next_who = (static_cast<uint64_t>(first_conn) << 12) + 1; // distinct among threads
    if (o.http_version == 2) {
        mux_thread<h2_connection>(plan, ctx).run(conn_count, nullptr);
        return;
    }
    gnutls_certificate_credentials_t cred = nullptr;
    if (gnutls_certificate_allocate_credentials(&cred) != 0) {
        out->setup_error = "GnuTLS set-up failed";
        return;
    }
    mux_thread<h3_connection>(plan, ctx).run(conn_count, cred);
    gnutls_certificate_free_credentials(cred);
}

} // namespace ringbolt_load
