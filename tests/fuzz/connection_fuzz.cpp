// libFuzzer target for one whole HTTP/1.1 connection: the input is a script that drives
// an http1_connection and the runtime's dispatcher on a small route table the way a
// reactor, a client and an application would, then checks the wire and the producers.
//
// Script: one config byte, then operations (a byte each, `% num_ops`, then operands;
// see `enum op`). Invariants, checked with abort():
//  (a) nothing is queued once close_after_flush() holds, nothing at all after release();
//  (b) every stream_control is told on_closed at most once, and release() leaves none
//      that is still producing untold; credits never exceed what was produced; a
//      request body stream or disconnect watch ends (finish/fail) at most once;
//  (c) the wire parses as HTTP/1.1 responses, each with one framing (Content-Length,
//      chunked, none for HEAD/1xx/204/304, close-delimited only last and for HTTP/1.0),
//      at most one Content-Length and Connection, never both Content-Length and
//      Transfer-Encoding; nothing after "Connection: close"; a response cut short only
//      when the application broke it and the connection closes;
//  (d) the k-th final response answers request k: app responses carry "X-Seq: k" and a
//      prefix of the bytes the application produced for k (all of them when complete);
//  (e) outstanding() stays within what the application still owes, is 0 once nothing is
//      owed; an idle or half-received connection always has a deadline (unless the server holds its input back).
//  (f) with config bit 0x10 the route table has a WebSocket route and the client may send
//      handshakes: an application's 101 switches only for the oldest owed request; then the
//      wire is the complete answers to every request before it and the 101's head, last,
//      with no framing; HTTP/1.1 keeps nothing queued; and the new protocol is given
//      exactly the bytes the client sent after the handshake's head.
//
// This file has the script's operations, the client's and the reactor's sides and the
// checks; connection_fuzz_app.cpp the application's side; connection_fuzz.hpp the run.
#include "tests/fuzz/connection_fuzz.hpp"

#include "core/clock.hpp"
#include "tests/support/protocol_harness.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::fuzz::http1 {

const bool tracing = std::getenv("CONNECTION_FUZZ_TRACE") != nullptr;

namespace {
const std::string* traced_wire = nullptr; ///< the running run's wire, printed on failure when tracing
} // namespace

} // namespace ringbolt::fuzz::http1

void ringbolt::fuzz::fail(const char* what) {
    if (http1::traced_wire != nullptr && http1::tracing) {
        std::fprintf(stderr, "---- wire ----\n%s\n--------------\n", http1::traced_wire->c_str());
    }
    std::fprintf(stderr, "connection_fuzz: invariant violated: %s\n", what);
    std::abort();
}

namespace ringbolt::fuzz::http1 {

using namespace ringbolt::http;

namespace {

/// The operations a script is made of. Values are stable: seeds depend on them.
enum op : uint8_t {
    op_queue_request = 0, ///< client queues a canned request: index
    op_queue_raw = 1,     ///< client queues raw bytes: length, bytes
    op_client_send = 2,   ///< client sends what it queued: count (0: all)
    op_answer = 3,        ///< app: whole response: pick, flags, size (13-byte steps), status
    op_stream_head = 4,   ///< app: streamed head: pick, flags, size (16-byte steps), status
    op_stream_body = 5,   ///< app: body chunk: pick, source, size (16-byte steps)
    op_stream_end = 6,    ///< app: end: pick, trailers
    op_abort = 7,         ///< app: abort: pick
    op_misbehave = 8,     ///< app: producer bugs: kind, pick
    op_time = 9,          ///< reactor: seconds pass, on_timeout when due: seconds
    op_send = 10,         ///< reactor: short send: count, batch shape
    op_turn = 11,         ///< reactor: resume reading, close when its rules say so
    op_drain = 12,        ///< reactor: the server drains: grace
    op_peer_eof = 13,     ///< client shuts its sending side
    op_gone = 14,         ///< connection reset: release
    num_ops = 15,
};

/// Requests a client sends (split anywhere by op_client_send).
constexpr std::string_view canned_requests[] = {
    "GET /py HTTP/1.1\r\nHost: a\r\n\r\n",
    "HEAD /py HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /py HTTP/1.0\r\n\r\n",
    "GET /py HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "HEAD /py HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST /py HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /users/12 HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /py HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n",
    "DELETE /py HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /empty HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n",
    "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    "GET / HTTP/1.1\r\n\r\n",
    "\r\n",
    "POST /py HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
    // Bodies streamed to the app (the route takes them so; over 64 bytes, chunked, or Expect).
    "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
    "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
    "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfff\r\n",
    "PUT /users/7 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    "GET /py HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
    // An ASGI-like target: the connection tells a watch when the client leaves first.
    "GET /watch HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /watch HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST /watch HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
};
constexpr size_t num_canned = sizeof(canned_requests) / sizeof(canned_requests[0]);

/// With config bit 0x10, op_queue_request picks from both tables (the first one's
/// indices keep their meaning for every other config, so older seeds replay the same).
#define WS_HANDSHAKE_FIELDS                                                                                            \
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
constexpr std::string_view websocket_requests[] = {
    "GET /ws HTTP/1.1\r\nHost: a\r\n" WS_HANDSHAKE_FIELDS "Sec-WebSocket-Version: 13\r\n\r\n",
    // A masked text frame ("Hello") right behind the handshake: the new protocol's bytes.
    "GET /ws HTTP/1.1\r\nHost: a\r\n" WS_HANDSHAKE_FIELDS "Sec-WebSocket-Version: 13\r\n\r\n"
    "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
    "GET /ws HTTP/1.1\r\nHost: a\r\n" WS_HANDSHAKE_FIELDS "Sec-WebSocket-Version: 8\r\n\r\n", // 426
    "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n",   // no key: 400
    "GET /ws HTTP/1.1\r\nHost: a\r\n\r\n", // not a handshake
    "GET /ws HTTP/1.1\r\nHost: a\r\n" WS_HANDSHAKE_FIELDS "Sec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n",
    "GET /ws HTTP/1.0\r\nHost: a\r\n" WS_HANDSHAKE_FIELDS "Sec-WebSocket-Version: 13\r\n\r\n",
    "POST /ws HTTP/1.1\r\nHost: a\r\n" WS_HANDSHAKE_FIELDS "Sec-WebSocket-Version: 13\r\nContent-Length: 2\r\n\r\nhi",
};
#undef WS_HANDSHAKE_FIELDS
constexpr size_t num_websocket = sizeof(websocket_requests) / sizeof(websocket_requests[0]);

} // namespace

const dispatch::app_routes& routes() {
    static const dispatch::app_routes r = [] {
        dispatch::app_routes a;
        auto add = [&](const char* pattern, uint16_t methods, dispatch::target_kind kind, uint16_t status,
                       const char* body) {
            uint32_t id = static_cast<uint32_t>(a.targets.size());
            check(a.table.add(pattern, methods, id).empty(), "route table");
            dispatch::route_target t;
            t.kind = kind;
            t.handler = id;
            t.response.status = status;
            t.response.headers = "Content-Type: text/plain\r\n";
            t.response.body = body;
            t.pattern = pattern;
            a.targets.push_back(std::move(t));
        };
        add("/", method_get, dispatch::target_kind::native, 200, "native");
        add("/empty", method_get, dispatch::target_kind::native, 204, "");
        add("/metrics", method_get, dispatch::target_kind::metrics, 200, "");
        add("/py", method_get | method_post, dispatch::target_kind::python, 0, "");
        add("/users/{id:int}", method_get | method_put, dispatch::target_kind::python, 0, "");
        add("/upload", method_post, dispatch::target_kind::python, 0, "");
        a.targets.back().streams_body = true;
        add("/watch", method_get | method_post, dispatch::target_kind::python, 0, ""); // an ASGI app's target
        a.targets.back().streams_body = true;
        a.targets.back().watches_disconnect = true;
        add("/ws", method_get | method_post, dispatch::target_kind::python, 0, ""); // only reached in WebSocket mode
        a.targets.back().websocket = true;
        return a;
    }();
    return r;
}

connection_run::connection_run(uint8_t config) : _app_limit((config & 4) ? 3 : 0), _websocket((config & 0x10) != 0) {
    static constexpr size_t output_limits[] = {SIZE_MAX, 256, 2048, 16384};
    _output_limit = output_limits[config & 3];
    _limits.min_body_rate = (config & 8) ? 64 : 0;
    _limits.parser.max_request_line = 256;
    _limits.parser.max_head_bytes = 1024;
    _limits.parser.max_headers = 16;
    _limits.max_body = 4096;
    _limits.stream_body_above = 64;
    _limits.body_window = 128;
    _conn.open(5, 9, {}, _now, _limits);
    traced_wire = &_wire;
}

connection_run::~connection_run() {
    traced_wire = nullptr;
}

void connection_run::step(script_reader& s) {
    uint8_t code = s.byte() % num_ops;
    if (tracing) {
        static constexpr const char* names[] = {
            "queue_request", "queue_raw", "client_send", "answer", "stream_head", "stream_body", "stream_end", "abort",
            "misbehave",     "time",      "send",        "turn",   "drain",       "peer_eof",    "gone"};
        std::fprintf(stderr, "op %s (closing %d flush %d owed-nothing %d outstanding %zu deadline %u now %u)\n",
                     names[code], _conn.closing(), _conn.close_after_flush(), _conn.nothing_owed(), _conn.outstanding(),
                     _conn.deadline(), _now);
    }
    switch (code) {
    case op_queue_request: {
        uint8_t which = s.byte();
        if (_websocket && which % (num_canned + num_websocket) >= num_canned) {
            _client.append(websocket_requests[which % (num_canned + num_websocket) - num_canned]);
        } else {
            _client.append(canned_requests[which % num_canned]);
        }
        break;
    }
    case op_queue_raw: {
        size_t n = s.byte() % 64;
        _client.append(s.bytes(n));
        break;
    }
    case op_client_send:
        client_send(s.byte());
        break;
    case op_answer:
        answer(s);
        break;
    case op_stream_head:
        stream_head(s);
        break;
    case op_stream_body:
        stream_body(s);
        break;
    case op_stream_end:
        stream_end(s);
        break;
    case op_abort:
        abort_response(s);
        break;
    case op_misbehave:
        misbehave(s);
        break;
    case op_time:
        pass_time(s.byte());
        break;
    case op_send: {
        uint8_t count = s.byte();
        send(count, s.byte());
        break;
    }
    case op_turn:
        turn();
        break;
    case op_drain: {
        uint8_t grace = s.byte() % 3;
        _draining = true;
        if (!_released && _conn.begin_drain(_now, grace) && _batch.empty()) {
            close();
        }
        break;
    }
    case op_peer_eof:
        _peer_eof = true;
        _client.clear();
        if (!_released && _stash.empty()) {
            auto e = env(); // as the reactor: once its stash is parsed
            _conn.end_input(e);
        }
        if (!_released && _conn.nothing_owed() && _stash.empty() && _batch.empty()) {
            close();
        }
        break;
    case op_gone:
        _reset = !_released || _reset;
        close();
        break;
    default:
        break;
    }
    collect();
    check_state();
}

void connection_run::client_send(uint8_t count) {
    if (_peer_eof) {
        return;
    }
    size_t n = count == 0 ? _client.size() : std::min<size_t>(count, _client.size());
    if (n == 0) {
        return;
    }
    std::string bytes = _client.substr(0, n);
    _client.erase(0, n);
    if (_released) {
        return; // nobody reads any more
    }
    // The reactor stops reading a connection that is held back or has too much unsent;
    // what was already in flight waits in its stash.
    if (_conn.has_pending_input() || unsent() > _output_limit || !_stash.empty()) {
        _stash += bytes;
        return;
    }
    auto e = env();
    feed(bytes, e);
}

void connection_run::feed(std::string_view bytes, protocol_env& e) {
    _fed.append(bytes);
    _conn.on_data(bytes, e);
}

void connection_run::collect() {
    std::vector<dispatch::app_request>& batch = _dispatcher.batch();
    for (const dispatch::app_request& r : batch) {
        check(r.conn_slot == 5 && r.conn_gen == 9, "app request address");
        check(r.seq < _seqs.size() && _seqs[r.seq].to_app && !_seqs[r.seq].handed, "(d) app request seq");
        check(r.head_request == _seqs[r.seq].ctx.head_request, "app request HEAD flag");
        _seqs[r.seq].handed = true;
        ++_handed;
    }
    batch.clear();
}

void connection_run::check_switch(uint64_t seq) {
    std::unique_ptr<protocol> next = _conn.take_successor();
    check(next != nullptr && !_conn.has_successor(), "(f) the successor is taken once");
    check(!_conn.has_output(), "(f) bytes left in HTTP/1.1's queue after the switch");
    // The reactor finishes the batch in flight, then sends from the new protocol's queue.
    for (int guard = 0; guard < 100000 && !_batch.empty(); ++guard) {
        send(0, 0);
    }
    test_support::drain_output(next->output(), _wire);
    size_t at = _wire.rfind("HTTP/1.1 101 ");
    check(at != std::string::npos, "(f) switched without a 101 on the wire");
    std::string_view head = std::string_view(_wire).substr(at);
    check(head.find("\r\n\r\n") == head.size() - 4, "(f) bytes after the 101's head");
    check(head.find("\r\nX-Seq: " + std::to_string(seq) + "\r\n") != std::string_view::npos,
          "(f) the 101 answers another request");
    check(head.find("Upgrade: websocket\r\n") != std::string_view::npos, "(f) the 101 lost its Upgrade field");
    for (std::string_view framing : {"Content-Length", "Transfer-Encoding", "content-length", "transfer-encoding"}) {
        check(head.find(framing) == std::string_view::npos, "(f) a 101 with framing");
    }
    std::string before = _wire.substr(0, at);
    wire_summary sum = read_responses(before, [this](uint64_t k) { return facts(k); });
    check(sum.last_complete && sum.finals == seq, "(f) the 101 does not follow whole answers to every earlier request");
    check(_fed.size() >= _pending.size() && std::string_view(_fed).ends_with(_pending),
          "(f) the new protocol was not given the bytes after the handshake");
    check(std::string_view(_fed).substr(0, _fed.size() - _pending.size()).ends_with("\n"),
          "(f) the new protocol was given part of the handshake");
    if (tracing) {
        std::fprintf(stderr, "switched protocols after request %llu; the new protocol was given %zu byte(s)\n",
                     static_cast<unsigned long long>(seq), _pending.size());
    }
    next->release();
    close();
    _switched = true;
}

void connection_run::pass_time(uint8_t seconds) {
    _now += seconds % 64;
    // The reactor's sweep: skipped while a send is in flight (the write timeout rules).
    if (_released || !_batch.empty()) {
        return;
    }
    uint32_t d = _conn.deadline();
    if (d == 0 || !core::deadline_passed(_now, d)) {
        return;
    }
    if (_draining && _conn.idle() && !_peer_eof && !_client.empty()) {
        _conn.begin_drain(_now, 1);
        return;
    }
    auto e = env();
    _conn.on_timeout(e);
}

/// The reactor sends up to `count` bytes (0: the whole batch) of a batch taken with a
/// shape from `shape`; a short send leaves the rest of the batch for the next one.
void connection_run::send(uint8_t count, uint8_t shape) {
    if (_batch.empty()) {
        _batch.reset();
        size_t max_iov = 1 + shape % 8;
        size_t max_bytes = (shape >> 3) == 0 ? SIZE_MAX : static_cast<size_t>(shape >> 3) * 256;
        if (!_conn.output().take_front(_batch, max_iov, max_bytes)) {
            return;
        }
    }
    uint64_t budget = count == 0 ? _batch.remaining() : (count & 0x80) ? uint64_t{count & 0x7fu} * 64 : count;
    while (budget > 0 && !_batch.empty()) {
        uint64_t sent = 0;
        if (_batch.is_file()) {
            const core::segment& f = _batch.front();
            uint64_t n = std::min(budget, f.length - f.done);
            std::string buf(n, '\0');
            ssize_t got = pread(f.file->fd, buf.data(), n, static_cast<off_t>(f.file_offset + f.done));
            check(got == static_cast<ssize_t>(n), "file segment read");
            _wire += buf;
            sent = n;
        } else {
            iovec iov[16];
            size_t cnt = _batch.iovecs(iov, 16);
            check(cnt > 0, "a memory batch without iovecs");
            for (size_t i = 0; i < cnt && sent < budget; ++i) {
                size_t n = std::min<uint64_t>(iov[i].iov_len, budget - sent);
                _wire.append(static_cast<const char*>(iov[i].iov_base), n);
                sent += n;
            }
        }
        _batch.consume(sent);
        budget -= sent;
    }
    if (_batch.empty()) {
        _batch.reset();
    }
}

/// What the reactor does once a send completed and at the end of a loop turn: resume
/// reading below the low-water mark, then close when the connection is done.
void connection_run::turn() {
    if (_released) {
        return;
    }
    // The app takes what streamed bodies received and sends credit (the first also
    // answers Expect: 100-continue).
    for (auto& b : _bodies.made) {
        if (b->ends == 0 && !_released) {
            b->taken = b->pushed;
            app_response credit;
            credit.conn_slot = 5;
            credit.conn_gen = 9;
            credit.seq = b->seq;
            credit.parts = app_response::part_read_more;
            auto e = env();
            _conn.on_app_message(std::move(credit), e);
        }
    }
    if ((_conn.has_pending_input() || !_stash.empty()) && unsent() < _output_limit / 2) {
        auto e = env();
        _conn.pump(e);
        if (!_conn.has_pending_input() && !_stash.empty()) {
            std::string bytes;
            bytes.swap(_stash);
            feed(bytes, e);
            if (_peer_eof) {
                _conn.end_input(e);
            }
        }
    }
    if (_conn.has_output() || !_batch.empty()) {
        return;
    }
    if (_conn.close_after_flush() || (_peer_eof && _conn.nothing_owed() && _stash.empty()) ||
        (_draining && _conn.idle() && _conn.begin_drain(_now, 1))) {
        close();
    }
}

/// The reactor closes the connection (it calls release twice: close, then finalize).
void connection_run::close() {
    if (!_released) {
        _conn.release();
    }
    _conn.release();
    _released = true;
    _batch.reset();
    _stash.clear();
    for (const stream_entry& e : _streams) {
        if (!e.producer_done) {
            check(e.stream->closed == 1, "(b) release() left a producing stream untold");
        }
    }
}

void connection_run::check_state() {
    if (_released) {
        check(_conn.output().empty(), "(a) output queued after release()");
        check(_conn.outstanding() == 0, "(e) outstanding after release()");
        check(_conn.deadline() == 0, "(e) a deadline after release()");
    }
    if (_was_closing) {
        check(_conn.closing(), "closing() went back to false");
    }
    _was_closing = _conn.closing();
    uint64_t total = _wire.size() + unsent();
    if (_flush_only) {
        check(_conn.close_after_flush(), "close_after_flush() went back to false");
        check(total <= _flush_total, "(a) bytes queued after close_after_flush()");
    } else if (_conn.close_after_flush()) {
        _flush_only = true;
        _flush_total = total;
    }
    size_t outstanding = _conn.outstanding();
    check(outstanding <= _handed - _finished, "(e) outstanding() above what the app still owes");
    if (_conn.close_after_flush() || _conn.nothing_owed()) {
        check(outstanding == 0, "(e) outstanding() with nothing owed");
    }
    if (!_released && !_conn.closing()) {
        uint32_t d = _conn.deadline();
        if (_conn.idle()) {
            check(d != 0, "(e) an idle connection without a deadline");
            check(d <= _now + 60, "(e) deadline too far");
        } else if (_conn.nothing_owed() && outstanding == 0) {
            check(d != 0, "(e) a half-received request without a deadline");
        }
    }
    for (const stream_entry& e : _streams) {
        check(e.stream->credited <= e.produced, "(b) credited more than produced");
    }
}

request_facts connection_run::facts(uint64_t k) const {
    request_facts f;
    const seq_record* rec = k < _seqs.size() ? &_seqs[k] : nullptr;
    if (rec != nullptr && rec->dispatched) {
        f.head_request = rec->ctx.head_request;
        f.http10 = rec->ctx.version_minor == 0;
        f.to_app = rec->to_app;
        f.produced = rec->produced;
        f.whole = rec->finished && !rec->broken && !_reset;
    }
    return f;
}

wire_summary connection_run::check_wire() const {
    return read_responses(_wire, [this](uint64_t k) { return facts(k); });
}

void connection_run::finish() {
    if (_switched) {
        finish_checks(); // the HTTP/1.1 part was checked at the switch
        return;
    }
    bool closed_before = _released;
    if (!_released) {
        // The reactor sends everything, then applies its close rules.
        for (int round = 0; round < 8 && !_released; ++round) {
            for (int guard = 0; guard < 100000 && (!_batch.empty() || _conn.has_output()); ++guard) {
                send(0, 0);
            }
            check(_batch.empty() && !_conn.has_output(), "output does not drain");
            turn();
            collect();
            check_state();
            if (!_conn.has_output()) {
                break;
            }
        }
    }
    wire_summary sum = check_wire();
    if (!sum.last_complete) {
        // Cut short: only a response the application broke, on a connection that closes
        // (or one still being produced), or anything once the client vanished.
        bool broken = sum.cut_seq >= 0 && static_cast<size_t>(sum.cut_seq) < _seqs.size() &&
                      _seqs[static_cast<size_t>(sum.cut_seq)].broken;
        bool producing = sum.cut_seq >= 0 && static_cast<size_t>(sum.cut_seq) < _seqs.size() &&
                         !_seqs[static_cast<size_t>(sum.cut_seq)].finished;
        check(_reset || (broken && (_released || _conn.closing())) || (!_released && producing),
              "(c) a response cut short");
        check(_reset || _released || _conn.closing() || !_conn.nothing_owed(),
              "(c) a response cut short on a connection that stays open");
    } else if (sum.last_close && !_released) {
        check(_conn.closing(), "(c) Connection: close said, but the connection stays open");
    }
    // Credits: a stream whose response went out whole was credited every byte.
    if (!closed_before) {
        for (const stream_entry& e : _streams) {
            bool complete = e.seq < sum.complete.size() && sum.complete[e.seq];
            if (complete && e.producer_done && e.stream->closed == 0) {
                check(e.stream->credited == e.produced, "(b) a sent stream not credited every byte");
            }
        }
    }
    finish_checks();
}

void connection_run::finish_checks() {
    close(); // the client goes away
    collect();
    check_state();
    for (const auto& f : _files) {
        check(f.expired(), "a file segment outlived the connection");
    }
    for (const auto& b : _bodies.made) {
        check(b->ends == 1, "(b) a streamed request body not ended exactly once by the connection's end");
    }
}

} // namespace ringbolt::fuzz::http1

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringbolt::fuzz;
    if (size == 0) {
        return 0;
    }
    script_reader s{data, size};
    http1::live_keeps = 0;
    {
        http1::connection_run run(s.byte());
        while (s.has(1) && !run.switched()) {
            run.step(s);
        }
        run.finish();
    }
    check(http1::live_keeps == 0, "borrowed bytes outlived the connection");
    return 0;
}
