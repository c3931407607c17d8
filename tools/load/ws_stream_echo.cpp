// Owns: one WebSocket echo on an HTTP/2 or HTTP/3 stream (see ws_stream_echo.hpp).
#include "ws_stream_echo.hpp"

#include <algorithm>

namespace ringbolt_load {

namespace {

constexpr int64_t handshake_backoff_ns = 10'000'000; // as a failed connect of ws_worker

} // namespace

ws_stream_echo::ws_stream_echo(ws_stream_context& ctx, int64_t now)
    : _ctx(ctx), _who(ctx.next_who++), _opened_ns(now) {}

bool ws_stream_echo::head(int status, int64_t now) {
    if (status != 200) { // RFC 8441 §5, RFC 9220 §3: a 2xx accepts; ringbolt answers 200
        ++_ctx.st->errors.handshake;
        _ctx.note_error("handshake: the extended CONNECT was answered " + std::to_string(status));
        _ctx.retry_at = now + handshake_backoff_ns;
        _over = true;
        return false;
    }
    ++_ctx.st->handshakes;
    _accepted = true;
    _ctx.any_accepted = true;
    return true;
}

bool ws_stream_echo::may_send(int64_t now) const noexcept {
    // closed loop: none before the common start, so with -n and no warm-up the server
    // sees exactly the measured messages
    return _accepted && !_over && now >= _ctx.plan.start_ns && now < _ctx.plan.end_ns &&
           _inflight.size() < _ctx.plan.opts->pipeline && (!_ctx.measured(now) || _ctx.budget_left()) &&
           !(_ctx.plan.opts->hold && _next_seq > 0);
}

bool ws_stream_echo::wants_output(int64_t now) const {
    return _handed < _chunks.size() || may_send(now);
}

size_t ws_stream_echo::next_output(const uint8_t** p, size_t* len, size_t max, int64_t now) {
    while (may_send(now)) {
        if (_ctx.measured(now)) {
            ++_ctx.issued;
        }
        _inflight.push_back(message{_next_seq, now});
        _chunks.emplace_back();
        _ctx.tpl.append_message(&_chunks.back(), _who, _next_seq++);
    }
    size_t n = 0;
    for (; n < max && _handed < _chunks.size(); ++n, ++_handed) {
        p[n] = reinterpret_cast<const uint8_t*>(_chunks[_handed].data());
        len[n] = _chunks[_handed].size();
    }
    return n;
}

void ws_stream_echo::acked(size_t n) {
    while (n > 0 && _handed > 0) {
        size_t left = _chunks.front().size() - _front_acked;
        if (n < left) {
            _front_acked += n;
            return;
        }
        n -= left;
        _chunks.pop_front();
        --_handed;
        _front_acked = 0;
    }
}

bool ws_stream_echo::data(const uint8_t* p, size_t len, int64_t now) {
    const char* d = reinterpret_cast<const char*>(p);
    while (len > 0 && !_over) {
        size_t used = 0;
        ws_event ev;
        ws_frame_parser::result r = _parser.feed(d, len, &used, &ev);
        if (r != ws_frame_parser::result::ok) [[unlikely]] {
            ++_ctx.st->errors.protocol;
            _ctx.note_error("server frame breaks RFC 6455 (parser result " + std::to_string(static_cast<int>(r)) + ")");
            return broken(true);
        }
        d += used;
        len -= used;
        if (ev.what == ws_event::kind::data) {
            if (!on_frame_data(ev, now)) {
                return broken(false);
            }
        } else if (ev.what == ws_event::kind::control) {
            if (ev.control_opcode == ws_opcode::ping) {
                ++_ctx.st->pings;
                _chunks.emplace_back();
                _ctx.tpl.append_control(&_chunks.back(), ws_opcode::pong, ev.control_payload, ev.control_len);
            } else if (ev.control_opcode == ws_opcode::close) {
                ++_ctx.st->server_closes;
                _chunks.emplace_back(); // the close handshake's answer (RFC 6455 §5.5.1)
                _ctx.tpl.append_control(&_chunks.back(), ws_opcode::close, ev.control_payload,
                                        std::min<size_t>(ev.control_len, 2));
                if (!_inflight.empty()) {
                    ++_ctx.st->errors.read; // closed with echoes outstanding
                }
                settle_all(!_inflight.empty());
                _over = true;
            }
            // an unsolicited pong is allowed (RFC 6455 §5.5.3) and ignored
        }
    }
    return true;
}

bool ws_stream_echo::on_frame_data(const ws_event& ev, int64_t now) {
    if (_inflight.empty()) {
        ++_ctx.st->errors.protocol;
        _ctx.note_error("a message nobody sent was echoed");
        return false;
    }
    _echo.piece(_ctx.tpl, _who, _inflight.front().seq, ev);
    if (!ev.message_end) {
        return true;
    }
    bool ok = _echo.matches(_ctx.tpl);
    int64_t sent = _inflight.front().sent_ns;
    _inflight.pop_front();
    _echo.reset();
    if (_ctx.measured(sent)) {
        ++_ctx.finished;
    }
    if (!ok) {
        ++_ctx.st->errors.mismatch;
        _ctx.note_error("an echo differed from the message sent");
        return false;
    }
    if (_ctx.measured(sent) && now <= _ctx.plan.end_ns) {
        ++_ctx.st->messages;
        _ctx.st->latency.record(static_cast<uint64_t>((now - sent) / 1000));
        _ctx.st->last_answer_ns = now;
    }
    return true;
}

// The stream broke inside (counted by the caller): it is over, and the connection
// resets it. fail_oldest: the oldest message in flight counts as failed.
bool ws_stream_echo::broken(bool fail_oldest) {
    settle_all(fail_oldest);
    _over = true;
    return false;
}

// The stream is gone: its messages in flight are given back (sent again on the next
// stream), the oldest counted as failed when fail_oldest, so a failing server cannot
// hold a -n run forever.
void ws_stream_echo::settle_all(bool fail_oldest) {
    for (size_t k = 0; k < _inflight.size(); ++k) {
        if (!_ctx.measured(_inflight[k].sent_ns)) {
            continue;
        }
        if (k == 0 && fail_oldest) {
            ++_ctx.finished;
        } else {
            --_ctx.issued;
        }
    }
    _inflight.clear();
}

void ws_stream_echo::ended(bool reset, bool timed_out, int64_t now) {
    if (_over) {
        return;
    }
    _over = true;
    if (!_accepted) {
        ++_ctx.st->errors.handshake;
        _ctx.retry_at = now + handshake_backoff_ns;
        _ctx.note_error(timed_out ? "no answer to the extended CONNECT within --timeout"
                                  : "the stream ended before the extended CONNECT was answered");
        return;
    }
    bool outstanding = !_inflight.empty();
    if (timed_out) {
        ++_ctx.st->errors.timeout;
    } else if (outstanding || reset) {
        ++_ctx.st->errors.read;
        _ctx.note_error(reset ? "the WebSocket's stream was reset" : "the WebSocket's stream ended");
    }
    settle_all(outstanding);
}

void ws_stream_echo::run_over() {
    for (const message& m : _inflight) {
        _ctx.st->unfinished += _ctx.measured(m.sent_ns) ? 1 : 0;
    }
    _inflight.clear();
    _over = true;
}

int64_t ws_stream_echo::deadline() const {
    const int64_t timeout_ns = static_cast<int64_t>(_ctx.plan.opts->timeout_ms) * 1'000'000;
    if (_over) {
        return INT64_MAX;
    }
    if (!_accepted) {
        return _opened_ns + timeout_ns;
    }
    return _inflight.empty() ? INT64_MAX : _inflight.front().sent_ns + timeout_ns;
}

} // namespace ringbolt_load
