// How a connection's socket is read: the multishot recv into the core's buffer ring, or,
// while a request body streams, one receive at a time straight into the body's own
// memory; the synchronous reads after a pause; and where reading stops for backpressure.
#include "server/reactor.hpp"

#include <algorithm>
#include <cerrno>

namespace ringbolt::server {

// A streamed body's bytes (a Content-Length body going to the app as it arrives, on a
// plaintext connection) are received straight into the body's next block, up to 64 KiB
// a receive (protocol::direct_input, body_stream::write_space): no copy out of 4 KiB ring
// buffers and a sixteenth of the completions. The body stream is held (rx_owner) while the
// receive is in the kernel: the request may end, and the app let go of it, before the
// receive does. Everything else goes through the multishot recv.
void reactor::arm_recv(conn_slot& s, uint32_t slot) noexcept {
    std::span<char> room;
    if (s.state == slot_state::open && !s.own_tp && _backend->can_recv_into()) {
        room = s.proto->direct_input();
    }
    if (!room.empty()) {
        widen_receive_buffer(s);
        s.rx_owner = s.proto->direct_input_owner();
        _backend->arm_recv_into(s.fd, slot, static_cast<uint16_t>(s.gen), room);
    } else {
        _backend->arm_recv(s.fd, slot, static_cast<uint16_t>(s.gen));
    }
    s.recv = recv_state::armed;
    s.last_in = _now_s;
    s.probe_at = 0;
}

void reactor::on_recv_into(uint32_t slot, uint16_t gen, size_t len) noexcept {
    conn_slot* sp = live_slot(slot, gen);
    if (sp == nullptr) {
        return;
    }
    conn_slot& s = *sp;
    s.recv = s.recv == recv_state::stopping ? recv_state::stopped : recv_state::idle;
    std::shared_ptr<void> owner = std::move(s.rx_owner); // the room lives until its bytes are committed
    if (s.state == slot_state::closing) {
        maybe_finalize(s, slot);
        return;
    }
    _counters.recvs_into_body.add();
    if (s.state == slot_state::lingering) {
        // After the final response: discarded, and the recv goes on (arm_recv: multishot).
        _counters.bytes_in.add(len);
        s.linger_until = std::min(_now_s + _config.linger_s, s.linger_limit);
        arm_recv(s, slot);
        return;
    }
    on_direct_recv(s, slot, len);
    // Reading goes on unless the body's window filled (paused), the connection closes or
    // the peer's end came: the next receive goes into the body's next block, or, once
    // the body is complete, is the multishot recv again.
    conn_slot* again = live_slot(slot, gen);
    if (again != nullptr && again->state == slot_state::open && again->recv == recv_state::idle && !peer_eof(*again) &&
        !again->proto->closing()) {
        arm_recv(*again, slot);
    }
}

// The multishot recv is armed while a body starts to stream (it read the head): it is
// cancelled, so that the rest of the body is received into the body's memory. Its end
// reads on (on_recv_end -> rearm_after_pause), straight into the body. Runs after every
// input: `rx_owner` sits in the slot's cold lines, so it is read last, only when a body
// streams (read first, it was one last-level miss per request at 4,096 connections).
void reactor::switch_to_body_reads(conn_slot& s, uint32_t slot) noexcept {
    if (!s.proto->direct_input().empty() && !s.rx_owner && _backend->can_recv_into()) {
        _backend->cancel_recv(s.fd, slot, static_cast<uint16_t>(s.gen));
        s.recv = recv_state::cancelling;
    }
}

// While a body streams, the reactor reads it as the app takes it and the socket holds the
// rest. Behind a busy core the kernel's autotuning stops at about 1.8 MiB of buffer on
// loopback (full: the client held by the window), and HttpArena's upload mix (64
// connections) cost the server per upload, user + system: autotuned about 3,700 µs,
// SO_RCVBUF 1 or 2 MiB about 3,500, 4 MiB 3,000-3,150, 8 MiB 2,600-2,700, 16 MiB 2,600
// (the kernel counts twice these); the load generator slept 3-5 times less often, and
// perf put the saving in the softirq work run at interrupt exit and in the copy to user
// space (benchmarks/journal/2026-11-26.md, "Upload: a wider receive buffer while a body
// streams"). Once per connection, at its first streamed body; only raised (a buffer
// autotuned past it stays); nothing where the kernel grants under 2 MiB (a stock
// net.core.rmem_max of 208 KiB would lock the buffer below what autotuning reaches).
void reactor::widen_receive_buffer(conn_slot& s) noexcept {
    if (s.rcvbuf_wide || _body_rcvbuf.option == 0) {
        return;
    }
    s.rcvbuf_wide = true;
    _backend->raise_receive_buffer(s.fd, _body_rcvbuf.option, _body_rcvbuf.bytes);
}

// Reading starts again after a pause cancelled the recv, or after the buffer ring ran
// dry and ended it (on_recv_end). What the kernel received in the meantime is read here first, synchronously, up to
// EAGAIN (or until the protocol pauses again), and only then is a recv armed. A multishot recv armed on a socket that
// already holds bytes and a reset was seen to never complete (io_uring, kernel 6.18): the connection then hung, with
// its reset unnoticed, until the body timeout. Read here, the reset is an ECONNRESET and the EOF a 0 like any other.
// Once per resume or dry end, not per request (a ring runs dry only with more readable connections than buffers). A
// connection that began lingering while the cancel was in flight only needs its recv back: it discards what comes, and
// the linger deadline bounds it.
void reactor::rearm_after_pause(conn_slot& s, uint32_t slot) noexcept {
    if (s.state == slot_state::lingering) {
        arm_recv(s, slot);
        return;
    }
    if (s.own_tp && s.stash.empty()) {
        // Nothing received is in flight (or stashed): kTLS may take the receiving over now,
        // after its cancel (on_transport_input) or a pause, before the reads go on.
        s.tp->start_kernel_receive();
    }
    thread_local std::string buf;
    buf.resize(rearm_read_chunk);
    const uint16_t gen = s.gen;
    for (size_t total = 0; total < rearm_read_limit;) {
        // A streamed body takes the bytes into its own buffer (one copy fewer).
        std::span<char> direct = s.own_tp ? std::span<char>{} : s.proto->direct_input();
        if (!direct.empty()) {
            widen_receive_buffer(s);
        }
        long n = direct.empty() ? _backend->recv_now(s.fd, buf.data(), buf.size(), 0)
                                : _backend->recv_now(s.fd, direct.data(), direct.size(), 0);
        if (n > 0) {
            total += static_cast<size_t>(n);
            if (direct.empty()) {
                on_recv(slot, gen, buf.data(), static_cast<size_t>(n));
            } else {
                on_direct_recv(s, slot, static_cast<size_t>(n));
            }
            conn_slot* sp = live_slot(slot, gen);
            if (sp == nullptr || sp->state != slot_state::open || paused(*sp) || peer_eof(*sp)) {
                return; // closed, lingering (close_conn armed its recv), or paused again (resumes later)
            }
            continue;
        }
        if (n == -EINTR) {
            continue;
        }
        if (n == -EAGAIN || n == -EWOULDBLOCK) {
            break;
        }
        if (n == -EIO && s.own_tp) {
            // kTLS: a record other than data waits; read here, in this loop (a burst of
            // them must not nest a call per record).
            if (!read_kernel_record(s, slot)) {
                return;
            }
            total += 1;
            continue;
        }
        on_recv_end(slot, gen,
                    n == 0          ? uring::recv_end::eof
                    : n == -EBADMSG ? uring::recv_end::bad_record
                                    : uring::recv_end::error);
        return;
    }
    arm_recv(s, slot);
}

// kTLS's receiving: a TLS record other than application data waits (the receive ended
// with EIO). The transport reads it; what it means (a close_notify, a KeyUpdate and its
// answer, a fatal alert) comes out as after any input, and reading goes on.
void reactor::on_kernel_record(conn_slot& s, uint32_t slot) noexcept {
    if (read_kernel_record(s, slot) && s.recv == recv_state::idle) {
        rearm_after_pause(s, slot);
    }
}

// True when the connection reads on (open, not paused, not failed, its input not ended).
bool reactor::read_kernel_record(conn_slot& s, uint32_t slot) noexcept {
    std::string_view data;
    if (!s.own_tp || (!s.tp->read_kernel_record(data) && !s.tp->failed())) {
        close_conn(s, slot, false);
        return false;
    }
    const uint16_t gen = s.gen;
    if (!data.empty()) {
        on_recv(slot, gen, data.data(), data.size());
    } else {
        on_transport_input(s, slot);
    }
    conn_slot* sp = live_slot(slot, gen);
    return sp != nullptr && sp->state == slot_state::open && !paused(*sp) && !peer_eof(*sp) && !sp->tp->failed();
}

void reactor::pause_reading(conn_slot& s, uint32_t slot) noexcept {
    if (s.recv == recv_state::armed) {
        _backend->cancel_recv(s.fd, slot, static_cast<uint16_t>(s.gen));
        s.recv = recv_state::stopping;
    } else if (s.recv == recv_state::cancelling) {
        s.recv = recv_state::stopping; // the stall probe's cancel: its end stops
    } else if (s.recv == recv_state::idle) {
        s.recv = recv_state::stopped;
    }
}

// A synchronous read went straight into the protocol's buffer (protocol::direct_input).
void reactor::on_direct_recv(conn_slot& s, uint32_t slot, size_t len) noexcept {
    _counters.bytes_in.add(len);
    s.last_in = _now_s;
    s.probe_at = 0;
    auto e = env();
    s.proto->on_direct_input(len, e);
    after_plain_input(s, slot);
}

} // namespace ringbolt::server
