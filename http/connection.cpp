// Connection state machine: framing (RFC 9112 §6), keep-alive (§9.3), pipelining in
// order, routing, native answers and hand-off to the application.
#include "http/connection.hpp"

#include "core/probes.hpp"
#include "http/response_writer.hpp"

#include <cstring>
#include <ctime>

namespace ringbolt::http {

namespace {

// One scratch head per reactor thread: a request_head is 4 KB and must not live in
// every connection.
thread_local request_head tl_head;

constexpr size_t keep_capacity = 4096; // buffers larger than this are freed when empty

void shrink_if_large(std::string& s) {
    if (s.empty() && s.capacity() > keep_capacity) {
        std::string().swap(s);
    }
}

span32 span_of(std::string_view part, const char* base) noexcept {
    return {static_cast<uint32_t>(part.data() - base), static_cast<uint32_t>(part.size())};
}

void append_allow(std::string& out, uint16_t mask) {
    static constexpr std::pair<uint16_t, std::string_view> names[] = {
        {method_get, "GET"},         {method_head, "HEAD"},       {method_post, "POST"},
        {method_put, "PUT"},         {method_delete, "DELETE"},   {method_patch, "PATCH"},
        {method_options, "OPTIONS"}, {method_connect, "CONNECT"}, {method_trace, "TRACE"},
    };
    for (const auto& [bit, name] : names) {
        if (mask & bit) {
            if (!out.empty()) {
                out.append(", ");
            }
            out.append(name);
        }
    }
}

} // namespace

void connection::open(uint32_t slot, uint32_t gen, const peer_address& peer, uint32_t now_s,
                      const connection_limits& lim) {
    _slot = slot;
    _gen = gen;
    _peer = peer;
    _phase = phase::head;
    _closing = false;
    _draining = false;
    _held_back = false;
    _next_seq = 0;
    _next_write = 0;
    _outstanding = 0;
    _scanned = 0;
    _tail.clear();
    _out.clear();
    _held.clear();
    _body_need = 0;
    _head_copy.clear();
    _body.clear();
    _chunked = chunked_decoder(chunked_limits{lim.max_body, 4096, lim.parser.max_head_bytes});
    _deadline = now_s + lim.keep_alive_timeout_s;
}

void connection::release() {
    std::string().swap(_tail);
    std::string().swap(_out);
    std::string().swap(_head_copy);
    std::string().swap(_body);
    _held.clear();
    _phase = phase::closed;
    _closing = true;
    _deadline = 0;
}

bool connection::on_data(std::string_view data, conn_env& env) {
    if (_closing) [[unlikely]] {
        return false; // after an error or Connection: close, later bytes are not processed
    }
    bool had_tail = !_tail.empty();
    if (!had_tail) [[likely]] {
        size_t used = process(data, env);
        if (used < data.size() && !_closing) {
            _tail.assign(data.substr(used));
            _scanned = 0;
        }
    } else {
        _tail.append(data);
        // A head arriving in small pieces is only parsed once its end is there (or it is
        // over the limit), so a byte-at-a-time client costs O(n), not O(n^2).
        // A request line over its limit is refused as soon as it is (414), not only once
        // the whole head limit is reached.
        bool line_over = _tail.size() > env.limits.parser.max_request_line && _tail.find('\n') == std::string::npos;
        // (A tail starting with CR may be empty lines, which process() consumes.)
        if (_phase == phase::head && !_held_back && _tail.size() <= env.limits.parser.max_head_bytes && !line_over &&
            _tail[0] != '\r' && !has_head_end(_tail, _scanned)) {
            _scanned = _tail.size();
        } else {
            consume_tail(env);
        }
    }

    // Deadlines (enforced by the reactor's once-a-second sweep).
    if (_outstanding > 0 && _tail.empty() && _phase == phase::head) {
        _deadline = 0; // the application is working; no read deadline
    } else if (_phase == phase::body_length || _phase == phase::body_chunked) {
        _deadline = env.now_s + env.limits.body_timeout_s;
    } else if (!_tail.empty()) {
        if (!had_tail) {
            _deadline = env.now_s + env.limits.header_timeout_s; // a new head started: its clock runs
        }
    } else {
        set_idle_deadline(env);
    }
    return true;
}

void connection::consume_tail(conn_env& env) {
    size_t used = process(_tail, env);
    _tail.erase(0, used);
    _scanned = 0;
    if (_closing) {
        _tail.clear();
    }
    shrink_if_large(_tail);
}

void connection::pump(conn_env& env) {
    if (!has_pending_input()) {
        return;
    }
    consume_tail(env);
    if (_tail.empty() && _outstanding == 0 && _phase == phase::head) {
        set_idle_deadline(env);
    }
}

void connection::set_idle_deadline(const conn_env& env) {
    _deadline = _outstanding > 0 ? 0 : env.now_s + env.limits.keep_alive_timeout_s;
}

size_t connection::process(std::string_view buf, conn_env& env) {
    size_t pos = 0;
    _held_back = false;
    request_head& head = tl_head;
    while (pos < buf.size() && !_closing) {
        std::string_view rest = buf.substr(pos);
        if (_phase == phase::head) {
            // Backpressure: a client that pipelines faster than it reads its responses
            // waits in the tail (and the reactor stops reading it) instead of growing
            // our output without bound.
            if (_out.size() >= env.output_limit || _outstanding >= max_outstanding_per_connection) [[unlikely]] {
                _held_back = true;
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
            if (r.status == parse_status::incomplete) {
                break;
            }
            if (r.status == parse_status::error) [[unlikely]] {
                env.counters.parse_errors.add();
                emit_error(r.error, env);
                return buf.size();
            }
            std::string_view head_bytes = rest.substr(0, r.consumed);
            if (head.body == body_kind::none) [[likely]] {
                pos += r.consumed;
                finish_request(head, head_bytes, {}, env);
                continue;
            }
            if (head.body == body_kind::content_length) {
                // RFC 9112 §6.3: the length is known before reading; refuse early.
                if (head.content_length > env.limits.max_body) {
                    emit_error(http_error::body_too_large, env);
                    return buf.size();
                }
                uint64_t need = r.consumed + head.content_length;
                if (rest.size() >= need) {
                    pos += need;
                    finish_request(head, head_bytes, rest.substr(r.consumed, head.content_length), env);
                    continue;
                }
                // Keep head + partial body in the tail until the body is complete.
                _phase = phase::body_length;
                _body_need = need;
                expect_continue(head, env);
                break;
            }
            // Chunked: keep a copy of the head, decode the body as it arrives.
            _head_copy.assign(head_bytes);
            _body.clear();
            _chunked.reset();
            _phase = phase::body_chunked;
            pos += r.consumed;
            if (pos == buf.size()) {
                expect_continue(head, env);
            }
            continue;
        }
        if (_phase == phase::body_length) {
            if (rest.size() < _body_need) {
                break;
            }
            parse_outcome r = parse_request_head(rest, head, env.limits.parser);
            std::string_view body = rest.substr(r.consumed, _body_need - r.consumed);
            _phase = phase::head;
            pos += _body_need;
            finish_request(head, rest.substr(0, r.consumed), body, env);
            continue;
        }
        // phase::body_chunked
        chunked_outcome c = _chunked.feed(rest, _body);
        if (c.status == chunked_status::error) [[unlikely]] {
            env.counters.parse_errors.add();
            emit_error(c.error, env);
            return buf.size();
        }
        if (c.status == chunked_status::incomplete) {
            pos = buf.size();
            break;
        }
        pos += c.consumed;
        _phase = phase::head;
        std::string head_bytes = std::move(_head_copy);
        std::string body = std::move(_body);
        _head_copy.clear();
        _body.clear();
        // `head` views point into head_bytes, which stays alive for the call.
        parse_outcome again = parse_request_head(head_bytes, head, env.limits.parser);
        (void)again;
        finish_request(head, head_bytes, body, env);
    }
    return pos;
}

void connection::expect_continue(const request_head& head, conn_env& env) {
    // RFC 9110 §10.1.1: answer 100 only when it can go out now, in order, i.e. when no
    // earlier response is still owed; otherwise the client sends the body after its
    // own timeout anyway.
    if (head.expect_continue && head.version_minor >= 1 && _next_write == _next_seq && _held.empty()) {
        _out.append("HTTP/1.1 100 Continue\r\n\r\n");
        env.counters.responses_1xx.add();
    }
}

void connection::finish_request(const request_head& head, std::string_view head_bytes, std::string_view body,
                                conn_env& env) {
    env.counters.requests.add();
    uint64_t seq = _next_seq++;
    RB_PROBE2(request_parsed, _slot, seq);
    bool keep = head.keep_alive && !env.draining && !_draining;
    if (!keep) {
        _closing = true; // RFC 9112 §9.6: nothing after a request without persistence is read
    }
    bool head_request = head.method_id == method_head;
    bool ka_header = keep && head.version_minor == 0;

    if (head.method_id == method_connect) [[unlikely]] {
        // No tunnels. What a client sends after CONNECT is meant for the tunnel (RFC 9110
        // §9.3.6), not requests: answer 501 and close rather than parse it as HTTP.
        _closing = true;
        std::string bytes;
        write_simple_response(bytes, 501, "CONNECT is not supported", env.date, true, false);
        emit(seq, std::move(bytes), true, 501, env);
        return;
    }
    route_match m;
    uint16_t allowed = 0;
    route_status st = env.routes.table.lookup(head.method_id, head.path, m, allowed);
    if (st != route_status::found) [[unlikely]] {
        std::string bytes;
        if (st == route_status::method_not_allowed) {
            std::string allow;
            append_allow(allow, allowed);
            write_simple_response(bytes, 405, "Method Not Allowed", env.date, !keep, head_request, "Allow", allow);
            emit(seq, std::move(bytes), !keep, 405, env);
        } else {
            write_simple_response(bytes, 404, "Not Found", env.date, !keep, head_request);
            emit(seq, std::move(bytes), !keep, 404, env);
        }
        return;
    }
    const route_target& target = env.routes.targets[m.handler_id];
    if (target.kind != target_kind::python) {
        if (env.route_latency != nullptr) {
            env.route_latency[m.handler_id].record(0);
        }
        if (target.kind == target_kind::metrics) [[unlikely]] {
            std::string text;
            if (env.metrics != nullptr) {
                env.metrics->render(text);
            }
            std::string bytes;
            response_spec spec{200, "text/plain; version=0.0.4; charset=utf-8", text, head_request, !keep, ka_header};
            write_response(bytes, spec, env.date);
            emit(seq, std::move(bytes), !keep, 200, env);
            return;
        }
        const native_response& nr = target.response;
        std::string bytes;
        bytes.reserve(160 + nr.headers.size() + nr.body.size());
        write_head_start(bytes, nr.status, env.date, !keep, ka_header);
        bytes.append(nr.headers);
        write_head_end(bytes, nr.status, nr.body.size());
        if (!head_request && !status_forbids_body(nr.status)) {
            bytes.append(nr.body);
        }
        emit(seq, std::move(bytes), !keep, nr.status, env);
        return;
    }

    // Backpressure: past the concurrency cap answer 503 at once instead of queueing.
    if (env.app_limit != 0) {
        if (env.app_pending->load(std::memory_order_relaxed) >= env.app_limit) {
            std::string bytes;
            write_simple_response(bytes, 503, "Service Unavailable", env.date, !keep, head_request, "Retry-After", "1");
            emit(seq, std::move(bytes), !keep, 503, env);
            return;
        }
        env.app_pending->fetch_add(1, std::memory_order_relaxed);
    }
    // Hand the request to the application: one owned copy of head and body.
    app_request& req = env.batch.emplace_back();
    req.route_id = m.handler_id;
    req.start_ns = 0;
    if (env.route_latency != nullptr) {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        req.start_ns = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
    }
    req.conn_slot = _slot;
    req.conn_gen = _gen;
    req.seq = seq;
    req.handler = target.handler;
    req.data.reserve(head_bytes.size() + body.size() + app_request_padding);
    req.data.append(head_bytes);
    req.data.append(body);
    const char* base = head_bytes.data();
    req.method = span_of(head.method, base);
    req.target = span_of(head.target, base);
    req.path = span_of(head.path, base);
    req.query = span_of(head.query, base);
    req.body = {static_cast<uint32_t>(head_bytes.size()), static_cast<uint32_t>(body.size())};
    req.method_id = head.method_id;
    req.version_minor = head.version_minor;
    req.keep_alive = keep;
    req.head_request = head_request;
    req.headers.clear();
    req.headers.reserve(head.num_headers * 2u);
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        req.headers.push_back(span_of(head.headers[i].name, base));
        req.headers.push_back(span_of(head.headers[i].value, base));
    }
    req.num_params = m.num_params;
    for (uint8_t i = 0; i < m.num_params; ++i) {
        req.params[i] = {m.params[i].type, span_of(m.params[i].raw, base), m.params[i].int_value};
    }
    req.peer = _peer;
    ++_outstanding;
}

void connection::emit(uint64_t seq, std::string&& bytes, bool close, uint16_t status, conn_env& env) {
    env.counters.count_status(status);
    append_in_order(seq, std::move(bytes), close);
}

void connection::append_in_order(uint64_t seq, std::string&& bytes, bool close) {
    if (seq != _next_write) {
        _held.emplace(seq, held{std::move(bytes), close});
        return;
    }
    if (_out.empty()) {
        _out.swap(bytes);
    } else {
        _out.append(bytes);
    }
    ++_next_write;
    if (close) {
        _closing = true;
    }
    while (!_held.empty() && _held.begin()->first == _next_write) {
        auto node = _held.extract(_held.begin());
        _out.append(node.mapped().bytes);
        ++_next_write;
        if (node.mapped().close) {
            _closing = true;
        }
    }
}

void connection::emit_error(http_error err, conn_env& env) {
    std::string bytes;
    write_error_response(bytes, err, env.date);
    _closing = true;
    _tail.clear();
    emit(_next_seq++, std::move(bytes), true, status_of(err), env);
}

void connection::on_app_response(app_response&& r, conn_env& env) {
    if (_outstanding > 0) {
        --_outstanding;
    }
    env.counters.count_status(r.status);
    append_in_order(r.seq, std::move(r.bytes), r.close);
    if (_outstanding == 0 && _tail.empty() && _phase == phase::head) {
        set_idle_deadline(env);
    }
}

void connection::on_timeout(conn_env& env) {
    if (_outstanding > 0) {
        return; // the application owns the request; no read is pending
    }
    env.counters.timeouts.add();
    if (!_tail.empty() || _phase != phase::head) {
        emit_error(http_error::request_timeout, env); // RFC 9110 §15.5.9
    } else {
        _closing = true;
    }
    _deadline = 0;
}

bool connection::begin_drain(uint32_t now_s, uint32_t grace_s) {
    _draining = true;
    if (!idle()) {
        return false;
    }
    if (_next_seq == 0) {
        uint32_t until = now_s + grace_s;
        if (_deadline == 0 || _deadline > until) {
            _deadline = until;
        }
        return false;
    }
    _closing = true;
    return true;
}

} // namespace ringbolt::http
