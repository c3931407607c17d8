// The lifecycle rules every protocol's request streams obey (HTTP/1.1's one request at a
// time, HTTP/2's and HTTP/3's many), written once so that a protocol added later cannot
// forget one: how long a head, a body and a response waiting for the client may take
// (cut only what makes no progress, never while bytes move), how abuse of a connection is
// counted and when it ends the connection, and how a connection ended for an error is
// told. The protocols call these; what each sends on the wire (a 408, RST_STREAM,
// RESET_STREAM, GOAWAY, CONNECTION_CLOSE, a close) stays theirs.
#pragma once

#include "core/clock.hpp"
#include "http/protocol.hpp"

#include <cstdint>
#include <string_view>

namespace ringbolt::http {

// ---- the clocks: one rule each, the same for every protocol ----

/// A head whose first byte came in second `since` must be whole by this second
/// (--header-timeout; on_timeout once the clock has passed it: 408).
constexpr uint32_t head_deadline(uint32_t since, const connection_limits& l) noexcept {
    return since + l.header_timeout_s;
}
/// A body that last moved (a byte came, or the app gave the client window back) in second
/// `moved` is cut after this second without another (--body-timeout: 408).
constexpr uint32_t body_deadline(uint32_t moved, const connection_limits& l) noexcept {
    return moved + l.body_timeout_s;
}
/// A body that began in second `since` and brought `bytes` by `now` trickles: past
/// --body-timeout it averages under --min-body-rate (a slowloris body; 408).
constexpr bool body_too_slow(uint32_t since, uint64_t bytes, uint32_t now, const connection_limits& l) noexcept {
    uint32_t elapsed = now - since;
    return l.min_body_rate != 0 && elapsed > l.body_timeout_s && bytes < uint64_t{l.min_body_rate} * elapsed;
}
/// A response that waits for the client (its flow-control window, its socket) and last
/// moved in second `moved` is cut after this second without progress (--write-timeout,
/// nginx's send_timeout: the age of a transfer never counts, only time without progress).
constexpr uint32_t send_deadline(uint32_t moved, const connection_limits& l) noexcept {
    return moved + l.write_timeout_s;
}

/// What a stream's clocks say (stream_clock::check): which rule it broke.
enum class stream_stall : uint8_t {
    none,
    head,      ///< the head is not whole --header-timeout after its first byte
    body,      ///< the body has not moved for --body-timeout while the client could send
    body_rate, ///< past --body-timeout the body averages under --min-body-rate
    send,      ///< the response has waited for the client --write-timeout without progress
};

/// One request stream's clocks on the whole-second clock (HTTP/2's and HTTP/3's streams;
/// HTTP/1.1 keeps its one request's in its own fields and applies the same rules above).
/// Each field is the second an event last happened, 0 when its clock does not run.
struct stream_clock {
    uint32_t head_since = 0;  ///< the head's first byte (0: no head in progress)
    uint32_t body_since = 0;  ///< the body began (0: no body in progress)
    uint32_t body_moved = 0;  ///< the body last moved: bytes came, or the client got window back
    uint64_t body_bytes = 0;  ///< body bytes so far
    uint32_t send_moved = 0;  ///< the response waits for the client, and last moved then (0: it does not wait)
    bool send_shared = false; ///< it waits for the connection (its window, its packets), not its own window

    void head_begins(uint32_t now) noexcept {
        if (head_since == 0) {
            head_since = now;
        }
    }
    /// The head is whole; `body`: a body follows (its clocks start).
    void head_ends(uint32_t now, bool body) noexcept {
        head_since = 0;
        if (body) {
            body_since = now;
            body_moved = now;
            body_bytes = 0;
        }
    }
    void body_moves(uint32_t now, uint64_t n) noexcept {
        body_moved = now;
        body_bytes += n;
    }
    /// The client got window back (the app took bytes): it may send again from now.
    void body_credited(uint32_t now) noexcept { body_moved = now; }
    void body_ends() noexcept { body_since = 0; }
    /// The response has bytes the client does not take now: `shared` false, this stream's
    /// own window holds them (the client takes nothing of this stream); true, the
    /// connection's (its window, its packets), which every stream's progress moves.
    void send_waits(uint32_t now, bool shared) noexcept {
        if (send_moved == 0) {
            send_moved = now;
        }
        send_shared = shared;
    }
    /// Bytes of the response went; `waiting`: more are still held by the client's window.
    void send_moves(uint32_t now, bool waiting) noexcept { send_moved = waiting ? now : 0; }
    void send_done() noexcept { send_moved = 0; }
    /// When the response last moved, as its send clock counts: a response that waits for
    /// the connection moves whenever the connection's responses do (`connection_moved`, the
    /// second any of them last sent bytes): the client is reading, and this stream's turn
    /// comes as the scheduler gives it (behind an exclusive dependency, a higher urgency).
    uint32_t send_progress(uint32_t connection_moved) const noexcept {
        return send_shared && connection_moved > send_moved ? connection_moved : send_moved;
    }
    /// Which rule the stream broke by `now`. `held_by_app`: the client cannot send because
    /// the app has not taken what it sent (its window is shut by us): the body's clocks wait.
    /// `connection_moved`: the second the connection's responses last sent bytes.
    stream_stall check(uint32_t now, const connection_limits& l, bool held_by_app,
                       uint32_t connection_moved) const noexcept {
        if (head_since != 0 && core::deadline_passed(now, head_deadline(head_since, l))) {
            return stream_stall::head;
        }
        if (body_since != 0 && !held_by_app) {
            if (core::deadline_passed(now, body_deadline(body_moved, l))) {
                return stream_stall::body;
            }
            if (body_too_slow(body_since, body_bytes, now, l)) {
                return stream_stall::body_rate;
            }
        }
        if (send_moved != 0 && core::deadline_passed(now, send_deadline(send_progress(connection_moved), l))) {
            return stream_stall::send;
        }
        return stream_stall::none;
    }
    /// The earliest second at which check() may say more than now (0: no clock runs). A
    /// protocol keeps the minimum over its streams as its deadline and rescans then.
    uint32_t next_check(const connection_limits& l, uint32_t connection_moved) const noexcept {
        uint32_t at = 0;
        auto take = [&at](uint32_t t) { at = at == 0 || t < at ? t : at; };
        if (head_since != 0) {
            take(head_deadline(head_since, l));
        }
        if (body_since != 0) {
            take(body_deadline(body_moved, l));
            if (l.min_body_rate != 0) {
                take(body_since + l.body_timeout_s); // the rate is judged from then on, each second
            }
        }
        if (send_moved != 0) {
            take(send_deadline(send_progress(connection_moved), l));
        }
        return at;
    }
};

// ---- abuse and errors ----

/// A token bucket over the coarse clock: `burst` at once, `rate` per second after.
class frame_budget {
  public:
    void reset(uint32_t burst, uint32_t rate, uint32_t now_s) noexcept {
        _burst = burst;
        _rate = rate;
        _tokens = burst;
        _at = now_s;
    }
    /// Take one token; false when none is left (the peer floods).
    bool take(uint32_t now_s) noexcept {
        if (now_s != _at) {
            uint64_t refill = static_cast<uint64_t>(now_s - _at) * _rate;
            _tokens = static_cast<uint32_t>(refill + _tokens > _burst ? _burst : refill + _tokens);
            _at = now_s;
        }
        if (_tokens == 0) {
            return false;
        }
        --_tokens;
        return true;
    }

  private:
    uint32_t _burst = 0;
    uint32_t _rate = 0;
    uint32_t _tokens = 0;
    uint32_t _at = 0;
};

/// How much abuse one connection takes, the same on every protocol of streams.
struct abuse_limits {
    /// Streams the client resets (HTTP/2 RST_STREAM, HTTP/3 RESET_STREAM on a request
    /// stream) taken at once, then per second: past it the connection ends for abuse
    /// (CVE-2023-44487, rapid reset; HTTP/2 GOAWAY ENHANCE_YOUR_CALM, HTTP/3
    /// H3_EXCESSIVE_LOAD).
    uint32_t reset_burst = 200;
    uint32_t reset_rate = 20;
};

/// A connection ends for the peer's error (a protocol violation, a flood): what the
/// protocol sends says so on the wire (GOAWAY, CONNECTION_CLOSE with its code); this says
/// it once in the log, at debug (a client's fault is not the server's problem, but its
/// operator may want to see it): who, which protocol, the code's name and value, why.
void log_connection_error(const peer_address& peer, std::string_view protocol, std::string_view code_name,
                          uint64_t code, std::string_view reason) noexcept;

} // namespace ringbolt::http
