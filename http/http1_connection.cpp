// HTTP/1.1 connection, the request side: framing of requests (RFC 9112 §6), keep-alive
// (§9.3), pipelining in order, streamed request bodies, deadlines. Responses in order:
// http1_response.cpp. How a connection leaves HTTP/1.1 (HTTP/2, CONNECT, an HTTP/2-only
// listener): http1_upgrade.cpp.
#include "http/http1_connection.hpp"

#include "http/body_buffers.hpp"

#include "http/response_features.hpp"

#include "core/probes.hpp"
#include "http/problem.hpp"
#include "http/response_writer.hpp"
#include "http/stream_policy.hpp"

#include <algorithm>
#include <cstring>

namespace ringbolt::http {

namespace {

// One scratch head per reactor thread: a request_head is 4 KB and must not live in
// every connection.
thread_local request_head tl_head;

constexpr size_t keep_capacity = 4096;                   // buffers larger than this are freed when empty
constexpr uint64_t reserve_body_max = uint64_t{1} << 20; // a body read whole: room reserved at once

void shrink_if_large(std::string& s) {
    if (s.empty() && s.capacity() > keep_capacity) {
        std::string().swap(s);
    }
}

} // namespace

void http1_connection::open(uint32_t slot, uint32_t gen, const peer_address& peer, uint32_t now_s,
                            const connection_limits& lim) {
    _slot = slot;
    _gen = gen;
    _peer = peer;
    _phase = phase::head;
    _closing = false;
    reset_input();
    _next_seq = 0;
    _next_write = 0;
    _outstanding = 0;
    _scanned = 0;
    _tail.clear();
    _out.clear();
    _owed.clear();
    _body_need = 0;
    _body_started = 0;
    _body_received = 0;
    _stream.reset();
    _stream_left = 0;
    _stream_chunked = false;
    _stream_continue = false;
    _close_after_body = false;
    _awaiting_upgrade = false;
    _successor.reset();
    _head_copy.clear();
    _body.clear();
    _chunked = chunked_decoder(chunked_limits{lim.max_body, 4096, lim.parser.max_head_bytes});
    _deadline = now_s + lim.keep_alive_timeout_s;
}

void http1_connection::release() noexcept {
    if (_stream) {
        _stream->fail(body_error::disconnect);
        _stream.reset();
    }
    tell_watchers();
    for (owed& o : _owed) {
        if (o.stream && !over(o.phase)) {
            o.stream->on_closed(); // the producer stops; its later messages are dropped
        }
    }
    std::vector<owed>().swap(_owed);
    give_body_buffer(std::move(_tail)); // (freed unless it is a large body's, kept for the next)
    _out.clear();
    std::string().swap(_head_copy);
    std::string().swap(_body);
    _kept.release();
    _phase = phase::closed;
    _closing = true;
    _outstanding = 0;
    _deadline = 0;
}

bool http1_connection::on_data(std::string_view data, protocol_env& env) {
    if (_closing && _phase != phase::body_stream) [[unlikely]] {
        return false; // after an error or Connection: close, later bytes are not processed
    }
    bool had_tail = !_tail.empty();
    if (!had_tail) [[likely]] {
        size_t used = process(data, env);
        if (used < data.size()) {
            if (!_closing) {
                _tail.assign(data.substr(used));
                _scanned = 0;
            } else if (_successor) [[unlikely]] {
                _successor->on_data(data.substr(used), env); // after Upgrade: h2c, the client preface
            }
        }
    } else {
        _tail.append(data);
        // A head arriving in small pieces is only parsed once its end is there (or it is
        // over the limit), so a byte-at-a-time client costs O(n), not O(n^2).
        // A request line over its limit is refused as soon as it is (414), not only once
        // the whole head limit is reached.
        bool line_over = _tail.size() > env.limits.parser.max_request_line && _tail.find('\n') == std::string::npos;
        // (A tail starting with CR may be empty lines, which process() consumes.)
        if (_phase == phase::head && !input_held() && _tail.size() <= env.limits.parser.max_head_bytes && !line_over &&
            _tail[0] != '\r' && !has_head_end(_tail, _scanned)) {
            _scanned = _tail.size();
        } else {
            consume_tail(env);
        }
    }
    if (_phase == phase::body_length && _tail.capacity() < _body_need + request_body_padding &&
        _tail.capacity() < reserve_body_max) {
        // The rest of a body read whole: room for all of it at once (up to 1 MiB), instead
        // of a tail that doubles its way there (each step a copy, and above malloc's mmap
        // threshold fresh pages to fault in). Address space only until the bytes arrive.
        // With room after it to hand the tail to the request whole (request_event::buffer).
        // A large one is a kept buffer whose pages are there already (http/body_buffers.hpp).
        std::string room = take_body_buffer(std::min<uint64_t>(_body_need, reserve_body_max) + request_body_padding);
        room.append(_tail);
        _tail.swap(room);
        give_body_buffer(std::move(room));
    }
    if (_closing) {
        return true;
    }
    // A body that trickles in below the minimum rate holds a connection (and, with a
    // connection cap, everyone else) for as long as the client likes: 408.
    if (_phase == phase::body_length || _phase == phase::body_chunked) {
        uint64_t received = _phase == phase::body_chunked ? _body.size() : _tail.size();
        if (body_too_slow(received, env)) [[unlikely]] {
            env.counters.timeouts.add();
            emit_error(http_error::request_timeout, held_request(), env);
            return true;
        }
    } else if (_phase == phase::body_stream && !input_held() && body_too_slow(_body_received, env)) [[unlikely]] {
        env.counters.timeouts.add();
        end_body_stream(false, body_error::timeout); // the app answers (408 from its read); then close
        return true;
    }
    set_read_deadline(had_tail, env);
    return true;
}

// The rules of every protocol's request (http/stream_policy.hpp), on this one's fields.
bool http1_connection::body_too_slow(uint64_t received, const protocol_env& env) const noexcept {
    return http::body_too_slow(_body_started, received, env.now_s, env.limits);
}

// Deadlines (enforced by the reactor's once-a-second sweep).
void http1_connection::set_read_deadline(bool had_tail, const protocol_env& env) {
    if (input_held()) {
        // Input waits because of us (the app has not answered, or taken the body, or the
        // client's unread output is over the mark, which the write timeout covers): no
        // read clock; it starts again when parsing resumes.
        _deadline = 0;
    } else if (_phase == phase::body_length || _phase == phase::body_chunked || _phase == phase::body_stream) {
        _deadline = body_deadline(env.now_s, env.limits);
    } else if (!_tail.empty()) {
        if (!had_tail || _deadline == 0) {
            _deadline = head_deadline(env.now_s, env.limits); // a new head started: its clock runs
        }
    } else {
        set_idle_deadline(env);
    }
}

void http1_connection::consume_tail(protocol_env& env) {
    size_t used = process(_tail, env);
    _tail.erase(0, used);
    _scanned = 0;
    if (_closing) {
        if (_successor && !_tail.empty()) [[unlikely]] {
            _successor->on_data(_tail, env); // after Upgrade: h2c, the client preface
        }
        _tail.clear();
    }
    shrink_if_large(_tail);
}

void http1_connection::pump(protocol_env& env) {
    if (!has_pending_input()) {
        return;
    }
    consume_tail(env);
    fail_unfinishable_body();
    if (!_closing) {
        set_read_deadline(true, env);
    }
}

void http1_connection::set_idle_deadline(const protocol_env& env) {
    // While the application owns a request no read is pending: no deadline.
    _deadline = _outstanding > 0 ? 0 : env.now_s + env.limits.keep_alive_timeout_s;
}

size_t http1_connection::process(std::string_view buf, protocol_env& env) {
    size_t pos = 0;
    release_input();
    request_head& head = tl_head;
    // A closing connection reads nothing more, except the rest of a body streaming to the
    // app (its request is still being answered).
    while (pos < buf.size() && (!_closing || _phase == phase::body_stream)) {
        std::string_view rest = buf.substr(pos);
        if (_phase == phase::head) {
            // Backpressure: a client that pipelines faster than it reads its responses
            // waits in the tail (and the reactor stops reading it) instead of growing
            // our output without bound.
            // After an upgrade request (a WebSocket handshake) the bytes that follow
            // may belong to another protocol: they wait until the app has answered.
            if (_outstanding >= max_outstanding_per_connection || queued_bytes() >= env.output_limit ||
                _awaiting_upgrade) [[unlikely]] {
                hold_input();
                break;
            }
            // RFC 9112 §2.2: empty lines before a request line are ignored. Consume them
            // here, so that a stray CRLF after a request (some clients send one after a
            // body) leaves the connection idle: closed quietly by the keep-alive clock,
            // at EOF or by a drain, instead of held as a started head and answered 408.
            if (rest[0] == '\r') [[unlikely]] {
                size_t k = 0;
                while (k + 1 < rest.size() && rest[k] == '\r' && rest[k + 1] == '\n') {
                    k += 2;
                }
                if (k > 0) {
                    pos += k;
                    continue;
                }
            }
            parse_outcome r = parse_request_head(rest, head, env.limits.parser);
            env.counters.http1_head_parses.add();
            if (r.status == parse_status::incomplete) {
                break;
            }
            if (r.status == parse_status::error) [[unlikely]] {
                if (pos == 0 && hand_by_preface(rest, env)) {
                    return buf.size();
                }
                env.counters.parse_errors.add();
                emit_error(r.error, rest, env);
                return buf.size();
            }
            if (!env.http1) [[unlikely]] {
                refuse_http1(head, env); // (the preface failed the parse above and went to HTTP/2)
                return buf.size();
            }
            std::string_view head_bytes = rest.substr(0, r.consumed);
            if (head.body == body_kind::none) [[likely]] {
                pos += r.consumed;
                finish_request(head, head_bytes, {}, env);
                continue;
            }
            _body_started = env.now_s;
            if (head.body == body_kind::content_length) {
                // RFC 9112 §6.3: the length is known before reading; refuse early.
                if (head.content_length > env.limits.max_body) {
                    emit_error(http_error::body_too_large, head_bytes, env);
                    return buf.size();
                }
                uint64_t need = r.consumed + head.content_length;
                if (rest.size() >= need) {
                    pos += need;
                    finish_request(head, head_bytes, rest.substr(r.consumed, head.content_length), env);
                    continue;
                }
                // A large body, or one the client will only send after a 100 (which a
                // streaming route answers when the app first reads), goes to the app as
                // it arrives, if the route takes it so.
                if ((head.content_length > env.limits.stream_body_above || head.expect_continue) &&
                    start_body_stream(head, head_bytes, false, env)) {
                    pos += r.consumed;
                    continue;
                }
                // Keep head + partial body in the tail until the body is complete, and the
                // parsed head beside it (the tail moves as it grows).
                _kept.keep(head, head_bytes);
                _phase = phase::body_length;
                _body_need = need;
                expect_continue(head, env);
                break;
            }
            // Chunked: decode what this read brought of the body first. Complete (a client
            // that writes its request at once), the request is reported once, body and
            // all. Else a route may take the body as a stream, from what is decoded so far;
            // or the head is kept (a copy of its bytes, the parsed head beside it) while
            // the body arrives, and the request is reported when it is complete.
            pos += r.consumed;
            bool body_here = pos < buf.size();
            _body.clear();
            _chunked.reset();
            if (body_here) {
                chunked_outcome c = _chunked.feed(buf.substr(pos), _body);
                if (c.status == chunked_status::error) [[unlikely]] {
                    env.counters.parse_errors.add();
                    emit_error(c.error, head_bytes, env);
                    return buf.size();
                }
                if (c.status == chunked_status::complete) {
                    pos += c.consumed;
                    finish_request(head, head_bytes, _body, env);
                    _body.clear();
                    shrink_if_large(_body);
                    continue;
                }
                pos = buf.size(); // the decoder took it all
            }
            if (start_body_stream(head, head_bytes, true, env)) {
                if (_stream && !_body.empty()) {
                    _stream->push(_body);
                    _body_received += _body.size();
                }
                _body.clear();
                continue;
            }
            if (!body_here) {
                expect_continue(head, env);
            }
            _head_copy.assign(head_bytes);
            _kept.keep(head, head_bytes);
            _phase = phase::body_chunked;
            break;
        }
        if (_phase == phase::body_length) {
            if (rest.size() < _body_need) {
                break;
            }
            // The head is where it was parsed, at the start of the tail (which has moved).
            _kept.restore(rest, head);
            size_t head_size = _kept.head_bytes();
            std::string_view body = rest.substr(head_size, _body_need - head_size);
            _phase = phase::head;
            pos += _body_need;
            // The tail holding this request and nothing else may go to the request as it
            // is (request_event::buffer); then nothing of `buf` is read after this.
            bool whole = pos == buf.size() && buf.data() == _tail.data() && buf.size() == _tail.size() &&
                         _tail.capacity() - _tail.size() >= request_body_padding;
            finish_request(head, rest.substr(0, head_size), body, env, false, whole ? &_tail : nullptr);
            continue;
        }
        if (_phase == phase::body_stream) {
            // Over the window the app has not taken: stop reading. What this read brought
            // still goes to the app (it is in memory either way, and waiting in _tail
            // would cost two more copies); what follows the body waits in _tail.
            bool over = _stream && _stream->unconsumed() >= env.limits.body_window;
            pos += stream_body(rest, env);
            if (over && _phase == phase::body_stream) {
                hold_input(); // the app has not taken enough yet: stop reading
                break;
            }
            continue;
        }
        // phase::body_chunked
        chunked_outcome c = _chunked.feed(rest, _body);
        if (c.status == chunked_status::error) [[unlikely]] {
            env.counters.parse_errors.add();
            emit_error(c.error, _head_copy, env);
            return buf.size();
        }
        if (c.status == chunked_status::incomplete) {
            pos = buf.size();
            break;
        }
        pos += c.consumed;
        _phase = phase::head;
        // The head as parsed when it came, its views over the copy of its bytes.
        _kept.restore(_head_copy, head);
        finish_request(head, _head_copy, _body, env);
        _head_copy.clear();
        _body.clear();
        shrink_if_large(_head_copy);
        shrink_if_large(_body);
    }
    return pos;
}

void http1_connection::expect_continue(const request_head& head, protocol_env& env) {
    // RFC 9110 §10.1.1: answer 100 only when it can go out now, in order, i.e. when no
    // earlier response is still owed; otherwise the client sends the body after its
    // own timeout anyway.
    if (head.expect_continue && head.version_minor >= 1 && _owed.empty()) {
        _out.append("HTTP/1.1 100 Continue\r\n\r\n");
        env.counters.responses_1xx.add();
    }
}

dispatcher::verdict http1_connection::finish_request(const request_head& head, std::string_view head_bytes,
                                                     std::string_view body, protocol_env& env, bool body_follows,
                                                     std::string* buffer) {
    if (head.method_id == method_connect || head.upgrade) [[unlikely]] {
        if (special_request(head, head_bytes, body, env, body_follows)) {
            return dispatcher::verdict::answered;
        }
    }
    uint64_t seq = _next_seq;
    bool keep = head.keep_alive && !env.draining;
    request_context ctx{head.version_minor, head.method_id == method_head, keep};
    request_event ev{head, head_bytes, body, body_follows, seq, ctx, _slot, _gen, _peer, buffer};
    std::shared_ptr<body_stream> stream;
    // The seq is taken before the call: a native answer during it is framed for it.
    ++_next_seq;
    dispatcher::verdict v = env.dispatch.on_request(*this, ev, env, stream);
    if (v == dispatcher::verdict::buffer) {
        --_next_seq; // not a request yet: reported again once its body is read
        return v;
    }
    env.counters.requests.add();
    RB_PROBE2(request_parsed, _slot, seq);
    if (!keep) {
        // RFC 9112 §9.6: nothing after a request without persistence is read; a body that
        // streams to the app is still part of this request (closing comes at its end).
        if (v == dispatcher::verdict::streaming || v == dispatcher::verdict::answered) {
            _close_after_body = body_follows;
        }
        _closing = !_close_after_body;
    }
    if (v == dispatcher::verdict::upgrade) [[unlikely]] {
        _awaiting_upgrade = true;
        _upgrade_seq = seq;
        v = dispatcher::verdict::to_app;
    }
    if (v == dispatcher::verdict::to_app || v == dispatcher::verdict::streaming) {
        owed& o = _owed.emplace_back();
        o.seq = seq;
        o.ctx = std::move(ctx); // not used below
        o.from_app = true;
        if (v == dispatcher::verdict::to_app && stream) {
            o.watch = std::move(stream); // the app listens for the client leaving (ASGI http.disconnect)
            if (input_ended()) {
                tell_watchers();
            }
        }
        ++_outstanding;
    }
    if (v == dispatcher::verdict::streaming) {
        _stream = std::move(stream);
        _stream_seq = seq;
    }
    return v;
}

bool http1_connection::start_body_stream(const request_head& head, std::string_view head_bytes, bool chunked,
                                         protocol_env& env) {
    dispatcher::verdict v = finish_request(head, head_bytes, {}, env, true);
    if (v == dispatcher::verdict::buffer) {
        return false;
    }
    if (v == dispatcher::verdict::answered && head.expect_continue) {
        // Answered before the body and the client waits for a 100 it will not get
        // (RFC 9110 §10.1.1): it may not send the body; close after the answer.
        _closing = true;
        return true;
    }
    // streaming, or answered natively (the body is then read and discarded: _stream null)
    _phase = phase::body_stream;
    _stream_chunked = chunked;
    _stream_left = chunked ? 0 : head.content_length;
    _stream_continue = v == dispatcher::verdict::streaming && head.expect_continue && head.version_minor >= 1;
    _body_started = env.now_s;
    _body_received = 0; // (a chunked body's decoder runs on: the caller fed it this read's bytes)
    return true;
}

size_t http1_connection::stream_body(std::string_view rest, protocol_env& env) {
    if (!_stream_chunked) {
        size_t n = rest.size() < _stream_left ? rest.size() : static_cast<size_t>(_stream_left);
        if (_stream) {
            _stream->push(rest.substr(0, n));
        }
        _stream_left -= n;
        _body_received += n;
        if (_stream_left == 0) {
            end_body_stream(true, body_error::disconnect);
        }
        return n;
    }
    _body.clear();
    chunked_outcome c = _chunked.feed(rest, _body);
    _body_received += _body.size();
    if (_stream && !_body.empty()) {
        _stream->push(_body);
    }
    _body.clear();
    if (c.status == chunked_status::error) [[unlikely]] {
        env.counters.parse_errors.add();
        end_body_stream(false, c.error == http_error::body_too_large ? body_error::too_large : body_error::malformed);
        return rest.size();
    }
    if (c.status == chunked_status::incomplete) {
        return rest.size();
    }
    end_body_stream(true, body_error::disconnect);
    return c.consumed;
}

// A body with a Content-Length streaming to the app, nothing parsed waiting: the next
// read may go straight into the body stream's buffer (reactor::arm_recv, rearm_after_pause).
std::span<char> http1_connection::direct_input() noexcept {
    if (_phase != phase::body_stream || _stream_chunked || !_stream || input_held() || !_tail.empty() ||
        _stream_left == 0) {
        return {};
    }
    return _stream->write_space(_stream_left);
}

void http1_connection::on_direct_input(size_t n, protocol_env& env) {
    if (_phase != phase::body_stream || !_stream) [[unlikely]] {
        return; // the body failed (timed out) while the receive was in the kernel: the connection closes
    }
    _stream->commit(n);
    _stream_left -= n;
    _body_received += n;
    if (_stream_left == 0) {
        end_body_stream(true, body_error::disconnect);
    } else if (_stream->unconsumed() >= env.limits.body_window) {
        hold_input(); // as in process(): the next reads wait for the app
    } else if (body_too_slow(_body_received, env)) [[unlikely]] {
        env.counters.timeouts.add();
        end_body_stream(false, body_error::timeout);
        return;
    }
    if (!_closing) {
        set_read_deadline(false, env);
    }
}

// The streamed body ended: complete, or failed (the app learns why from its read and
// answers; the connection closes after that answer, the rest of the input is unusable).
void http1_connection::end_body_stream(bool ok, body_error why) {
    if (_stream) {
        if (ok) {
            _stream->finish();
        } else {
            _stream->fail(why);
        }
        _stream.reset();
    }
    _phase = phase::head;
    _stream_continue = false;
    shrink_if_large(_body);
    if (_close_after_body) {
        _close_after_body = false;
        _closing = true; // the request without persistence is complete
    }
    if (!ok) {
        _closing = true;
        _tail.clear();
    }
}

void http1_connection::emit_error(http_error err, std::string_view request, protocol_env& env) {
    request_line_start line = scan_request_line(request); // before the tail it may view is cleared
    tell_refused(line.method, line.target, line.version_minor, status_of(err), problem_of(err).size(), env);
    _closing = true;
    _tail.clear();
    _phase = phase::head;
    request_context ctx{1, false, false};
    // RFC 9457 problem+json like every other error, naming the cause: a constant body, no
    // allocation (the longer body is its only cost: BENCHMARKS.md, "One error format").
    respond(_next_seq++, ctx, status_of(err), problem_content_type, problem_of(err), env);
}

void http1_connection::tell_refused(std::string_view method, std::string_view target, uint8_t version_minor,
                                    uint16_t status, size_t body_bytes, protocol_env& env) const noexcept {
    env.dispatch.on_refused({_peer, method, target, version_minor, status, body_bytes});
}

// What came of a request refused while it is read (a timeout): its head, kept in the tail
// or, while a chunked body is decoded, in its copy.
std::string_view http1_connection::held_request() const noexcept {
    return _phase == phase::body_chunked ? std::string_view(_head_copy) : std::string_view(_tail);
}

void http1_connection::on_peer_eof(protocol_env& env) {
    (void)env;
    fail_unfinishable_body();
    tell_watchers(); // as uvicorn: a client that ends its side is gone for the app
}

void http1_connection::tell_watchers() {
    for (owed& o : _owed) {
        if (o.watch) {
            if (!over(o.phase)) {
                o.watch->fail(body_error::disconnect);
            }
            o.watch.reset();
        }
    }
}

// After EOF a body streaming to the app that still lacks bytes can never complete: its
// read raises ClientDisconnect now, not a 408 after the body timeout. (Bytes held back
// for the window are parsed first: a client may send its whole body, then half-close.)
void http1_connection::fail_unfinishable_body() {
    if (input_ended() && _phase == phase::body_stream && !input_held()) {
        end_body_stream(false, body_error::disconnect);
    }
}

void http1_connection::on_timeout(protocol_env& env) {
    _deadline = 0;
    if (_closing) {
        // Nothing more is read, so a partial request left in the tail never completes
        // and is not answered: a 408 now would follow a broken or closing response.
        return;
    }
    if (_tail.empty() && _phase == phase::head) {
        if (_owed.empty()) {
            env.counters.timeouts.add();
            _closing = true; // idle keep-alive connection
        }
        return; // the application owns the requests: no read deadline runs
    }
    env.counters.timeouts.add();
    if (_phase == phase::body_stream) {
        end_body_stream(false, body_error::timeout); // the app's read fails; it answers (408), then close
        return;
    }
    // A request partly received: 408 (RFC 9110 §15.5.9), queued after whatever the
    // application still owes, then the close.
    emit_error(http_error::request_timeout, held_request(), env);
}

bool http1_connection::begin_drain(uint32_t now_s, uint32_t grace_s) {
    // The drain itself is the reactor's fact (protocol_env::draining, true from now on):
    // the last response owed says close. What is the connection's own is its grace.
    if (!idle()) {
        return false;
    }
    // Closing an idle keep-alive connection races the client's next request (it may be
    // on the wire already; the client would see a close with no answer). So an idle
    // connection gets `grace_s`: a request in that time is answered with Connection:
    // close; one still idle after it (the sweep checks for bytes in the kernel) is closed.
    // A connection accepted just before the drain gets the same time for its first one.
    // On the whole-second clock the sweep fires this once the clock has passed it: at
    // least `grace_s` (core/clock.hpp deadline_passed).
    uint32_t until = now_s + grace_s;
    if (_deadline == 0 || _deadline > until || _deadline <= now_s) {
        _deadline = until;
    }
    return false;
}

} // namespace ringbolt::http
