// The reactor's clock and its sweep as each second begins: the deadlines (keep-alive,
// header, body, TLS handshake, linger, drain), the write timeout, and the probe of recvs
// that stay silent. Split from reactor.cpp by concern; the same class.
#include "server/reactor.hpp"

#include "core/large_buffers.hpp"
#include "core/log.hpp"
#include "http/stream_policy.hpp"

#include <algorithm>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RINGBOLT_SANITIZED_HEAP 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RINGBOLT_SANITIZED_HEAP 1
#endif

namespace ringbolt::server {

namespace {
/// Once memory was freed since the last trim (output sent or dropped, QUIC connections
/// deleted; at least trim_later_bytes), the tick gives the heap's free memory back to the
/// system when it has found most of the heap free (at least trim_after_bytes, and more
/// than is in use) trim_free_ticks ticks in a row: a burst is over ...
constexpr uint64_t trim_after_bytes = 32u << 20;
constexpr uint8_t trim_free_ticks = 2;
/// ... and in any case once trim_every_s passed since the last time: what a burst freed
/// goes back within that, however little follows it.
constexpr uint64_t trim_later_bytes = 1u << 20;
constexpr uint32_t trim_every_s = 20;

/// Give glibc's free memory back to the system. Under a sanitizer, malloc is the
/// sanitizer's and glibc's heap is never set up: malloc_trim would set it up on its first
/// call, and two reactors that trim at once set it up together and corrupt it (a crash in
/// mtrim, or at thread exit "a->attached_threads > 0"; 1 run in 6 of the TLS suite under
/// ASan on epoll). There the sanitizer's allocator keeps its own (its quarantine holds
/// freed memory anyway), and the trim is only counted.
void give_back_free_memory() noexcept {
#ifndef RINGBOLT_SANITIZED_HEAP
    malloc_trim(0);
#endif
}

/// Whether the heaps' free memory is worth giving back: at least trim_after_bytes, and
/// more than is in use. A steady flow of large answers keeps freeing and reusing its own
/// working set, which a trim would only hand back to fault in again (a trim after each 64
/// MiB sent cost answers of 1.3 MB some 100-200 page faults each, test_large_answers.py);
/// after a burst of slow readers or a flood, most of the heap stays free. Under a
/// sanitizer there is no glibc heap to ask (see give_back_free_memory).
bool heap_mostly_free() noexcept {
#ifndef RINGBOLT_SANITIZED_HEAP
    struct mallinfo2 heap = mallinfo2();
    return heap.fordblks >= trim_after_bytes && heap.fordblks >= heap.uordblks;
#else
    return true;
#endif
}
} // namespace

// Whether the kernel holds input for the connection (MSG_PEEK: nothing is consumed).
bool reactor::bytes_waiting(const conn_slot& s) const noexcept {
    char c;
    return _backend->recv_now(s.fd, &c, 1, MSG_PEEK) > 0;
}

void reactor::read_clock() noexcept {
    core::second_reading now = core::read_seconds();
    _now_s = now.second;
    _next_second_ms = now.ms_left;
    _date.refresh();
}

// After the application ran on this thread, in every turn that ran it: the coarse clock
// (no TSC read: cheaper) says whether a second began since read_clock; only then is the
// exact one read. It lags by at most a scheduler tick, so a handler that ends within a
// tick after a second began arms from the second before, as any work late in a turn
// does (the clock is read once a turn). (_next_second_ms stays as the wait's end set it:
// after a handler that took part of a second, the next sweep may come up to a wait
// (0.25 s) late.)
void reactor::catch_up_clock() noexcept {
    timespec coarse;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
    if (static_cast<uint32_t>(coarse.tv_sec) + 1 != _now_s) {
        read_clock();
    }
}

// The write timeout counts time without progress, as nginx's send_timeout, not the age
// of a send. A send waits while the socket's buffer is full, and the kernel takes more
// (ending the send) only once a third of that buffer has drained (sk_stream_wspace): with
// a buffer grown to MiBs and a slow reader, many seconds, though every ACK shows the
// client reading. So each second the sweep reads a waiting send's unacknowledged bytes
// (SIOCOUTQ: the kernel took nothing new meanwhile, or the send would have ended):
// fewer than at the last look is progress. It looks only at sends still in flight at a
// sweep, i.e. slow clients, one ioctl a second each.
bool reactor::write_stalled(conn_slot& s) noexcept {
    if (int unacked = _backend->unacked_bytes(s.fd); unacked >= 0) {
        if (s.unacked_seen >= 0 && unacked < s.unacked_seen) {
            s.send_since = _now_s; // the client took bytes since the last look
        }
        s.unacked_seen = unacked;
    }
    return core::deadline_passed(_now_s, http::send_deadline(s.send_since, _config.limits));
}

// The sweep, as each second begins. A timer measures the client (its silence, its pace),
// never the reactor: a read timer does not fire while the kernel holds input that this
// reactor has not read yet (input_unread). That happens when a handler held the thread
// for longer than the timeout (the input came meanwhile; a connection accepted in the
// turn after it has its recv armed only at the next wait) and, rarely, when bytes arrive
// between the wait and the sweep. Such a connection is looked at again the next second,
// by which time its recv has delivered what was there (or probe_recv has found why not).
// The peek is a syscall per timer that would fire, not per connection.
void reactor::tick() noexcept {
    _last_tick = _now_s;
    _backend->on_second();
    _released_bytes += core::large_buffers::sweep(); // kept large answer buffers, once large answers stop
    if (_app_slot == _index) {                       // (not on the stand-in: the loop it stands in for holds the GIL)
        _app.on_second(_app_slot);
    }
    bool freed = _released_bytes >= trim_later_bytes;
    _heap_free_ticks = freed && heap_mostly_free() ? static_cast<uint8_t>(_heap_free_ticks + 1) : 0;
    if (_heap_free_ticks >= trim_free_ticks || (freed && _now_s - _last_trim_s >= trim_every_s)) {
        // Give freed memory back to the system: after a burst of slow readers (or large
        // responses), or an Initial flood's half-open QUIC connections, the process must not
        // stay at its peak. glibc returns only the free top of a heap by itself: the rest of
        // what a flood freed stayed resident (issue 40: 239 MB after 2,000 half-open
        // connections had gone, 7 MB of it in use; 48 MB after malloc_trim), and the heap
        // keeps large bodies for reuse (server.cpp, mmap_threshold_bytes).
        _released_bytes = 0;
        _heap_free_ticks = 0;
        _last_trim_s = _now_s;
        if (_quic) {
            quic_release_blocks(); // kept blocks strewn over the heap would pin its pages (issue 40)
        }
        give_back_free_memory();
        _counters.memory_trims.add();
    }
    auto e = env();
    for (uint32_t slot = 0; slot < _slots.size(); ++slot) {
        conn_slot& s = _slots[slot];
        if (s.state == slot_state::free || s.state == slot_state::closing) {
            continue;
        }
        if (s.state == slot_state::quic) {
            // The transport's timers (idle, handshake, loss) are its endpoint's; the
            // streams' clocks are the protocol's, as on TCP. What it does goes out at the
            // endpoint's flush before the next wait.
            if (uint32_t deadline = s.proto->deadline(); deadline != 0 && core::deadline_passed(_now_s, deadline)) {
                s.proto->on_timeout(e);
            }
            continue;
        }
        if (s.state == slot_state::lingering) {
            // (Unread bytes at close() would reset the connection: what the client sent
            // while the reactor was away is read first.)
            if (core::deadline_passed(_now_s, s.linger_until) &&
                (core::deadline_passed(_now_s, s.linger_limit) || !input_unread(s))) {
                close_conn(s, slot, false);
            }
            continue;
        }
        if (s.recv == recv_state::armed && !peer_eof(s)) {
            probe_recv(s, slot);
        }
        if (s.own_tp) [[unlikely]] {
            if (uint32_t hd = s.tp->handshake_deadline(); hd != 0) {
                if (core::deadline_passed(_now_s, hd) && !input_unread(s)) {
                    s.tp->on_handshake_timeout();
                    close_conn(s, slot, false);
                }
                continue; // the protocol's deadlines wait for the handshake
            }
        }
        if (s.send != send_state::idle) {
            if (write_stalled(s)) {
                _counters.timeouts.add();
                close_conn(s, slot, false); // the client stopped reading
            }
            continue;
        }
        uint32_t deadline = s.proto->deadline();
        if (deadline == 0 || !core::deadline_passed(_now_s, deadline)) {
            continue;
        }
        if (input_unread(s)) {
            // Its input is on its way to on_recv (an idle connection in a drain: its
            // request, answered with Connection: close).
            continue;
        }
        s.proto->on_timeout(e);
        if (s.proto->has_output()) {
            after_output(s, slot);
        } else if (s.proto->close_after_flush()) {
            close_conn(s, slot, false);
        }
        // Otherwise responses are still owed by the application: they go out, then the close.
    }
    if (_accept_hold.backing_off) {
        _accept_hold.backing_off = false; // retry; still exhausted, the accept ends again at once
        update_accepting();
    }
    for (core::log_throttle* throttle : {&_accept_backoff_log, &_accept_transient_log}) {
        if (uint64_t n = throttle->take_overdue(_now_s)) {
            core::log(core::log_level::warning, "reactor %u: accept: %llu more accept error(s) since the last report",
                      _index, static_cast<unsigned long long>(n));
        }
    }
    if (_draining && core::deadline_passed(_now_s, _drain_deadline)) {
        for (uint32_t slot = 0; slot < _slots.size(); ++slot) {
            conn_slot& s = _slots[slot];
            if (s.state == slot_state::open || s.state == slot_state::lingering) {
                close_conn(s, slot, false);
            }
        }
    }
}

// The kernel's multishot recv can miss what arrives together with a connection's end: on
// 6.18 a request cut off by a reset once stayed open, its recv armed and silent, until the
// test gave up (the AF_UNIX form of the race is liburing issue 1549, fixed in 2026). Here,
// on the tick, a connection whose armed recv has been silent for stall_probe_s is polled,
// which consumes nothing. Readable (bytes, EOF or an error) at two looks a second apart
// means the recv missed it: it is cancelled, and its end reads what the kernel holds
// synchronously (rearm_after_pause), as after a pause. Nothing found: the next look comes
// after twice the silence so far, so an idle connection is polled a handful of times.
void reactor::probe_recv(conn_slot& s, uint32_t slot) noexcept {
    if (s.probe_at == 0) { // input came (or the recv was armed) since the last look
        s.probe_at = s.last_in + stall_probe_s;
        s.probe_suspect = false;
    }
    if (_now_s < s.probe_at) {
        return;
    }
    if (_backend->poll_now(s.fd, POLLIN | POLLRDHUP) == 0) {
        s.probe_suspect = false;
        s.probe_at = _now_s + std::max(stall_probe_s, _now_s - s.last_in);
        return;
    }
    if (!s.probe_suspect) {
        s.probe_suspect = true; // its completion may be on its way: look again next second
        s.probe_at = _now_s + 1;
        return;
    }
    _counters.recv_stalls.add();
    if (!_recv_stall_logged) {
        _recv_stall_logged = true;
        core::log(core::log_level::warning,
                  "reactor %u: a connection's recv missed input for %u s (a kernel multishot recv race); reading it "
                  "directly (counter recv_stalls counts each time)",
                  _index, _now_s - s.last_in);
    }
    s.probe_suspect = false;
    s.probe_at = 0;
    _backend->cancel_recv(s.fd, slot, static_cast<uint16_t>(s.gen));
    s.recv = recv_state::cancelling; // its end (not stopping) goes to rearm_after_pause
}

} // namespace ringbolt::server
