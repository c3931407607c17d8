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
#include "core/clock.hpp"
#include "http/http1_connection.hpp"

#include "dispatch/dispatcher.hpp"
#include "tests/fuzz/wire_responses.hpp"
#include "tests/support/inert_protocol.hpp"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// CONNECTION_FUZZ_TRACE=1: print each operation and, on failure, the wire so far.
namespace {
const bool tracing = std::getenv("CONNECTION_FUZZ_TRACE") != nullptr;
const std::string* traced_wire = nullptr;
} // namespace

void ringbolt::fuzz::fail(const char* what) {
    if (traced_wire != nullptr && tracing) {
        std::fprintf(stderr, "---- wire ----\n%s\n--------------\n", traced_wire->c_str());
    }
    std::fprintf(stderr, "connection_fuzz: invariant violated: %s\n", what);
    std::abort();
}

namespace {

using namespace ringbolt;
using namespace ringbolt::http;
using ringbolt::fuzz::check;
using ringbolt::fuzz::fail;
using ringbolt::fuzz::read_responses;
using ringbolt::fuzz::request_facts;
using ringbolt::fuzz::wire_summary;

constexpr std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";

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

constexpr uint16_t app_statuses[] = {200, 201, 204, 304, 404, 500, 299};
constexpr std::string_view connection_values[] = {"", "close", "keep-alive", "Keep-Alive, close"};

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

/// Body bytes are a function of (request, offset) so that a misplaced or repeated
/// piece shows; file bodies are a function of the file offset.
char body_byte(uint64_t seq, uint64_t off) {
    return "abcdefghijklmnopqrstuvwxyz0123456789"[(seq * 11 + off) % 36];
}
char file_byte(uint64_t off) {
    return static_cast<char>('A' + off % 23);
}
constexpr uint64_t file_size = 1 << 16;

/// One file shared by every run (segments get their own descriptor: file_handle closes it).
int shared_file() {
    static const int fd = [] {
        int f = memfd_create("connection_fuzz", 0);
        check(f >= 0, "memfd_create");
        std::string content(file_size, '\0');
        for (uint64_t i = 0; i < file_size; ++i) {
            content[i] = file_byte(i);
        }
        check(pwrite(f, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size()), "file write");
        return f;
    }();
    return fd;
}

int live_keeps = 0; ///< borrowed bodies still alive (must be 0 once a run is over)

/// Borrowed bytes kept alive by the queue until sent (counted, to see them released).
struct kept_bytes {
    std::string data;
    explicit kept_bytes(std::string d) : data(std::move(d)) { ++live_keeps; }
    ~kept_bytes() { --live_keeps; }
    kept_bytes(const kept_bytes&) = delete;
    kept_bytes& operator=(const kept_bytes&) = delete;
};

struct probe_stream final : stream_control {
    uint64_t credited = 0;
    int closed = 0;
    void on_sent(size_t n) noexcept override { credited += n; }
    void on_closed() noexcept override {
        if (++closed > 1) {
            fail("(b) a stream_control was told on_closed twice");
        }
    }
};

/// The protocol after a 101: it only keeps what it was given (the WebSocket protocol
/// itself is driven by ws_connection_fuzz).
class probe_protocol final : public test_support::inert_protocol {
  public:
    void release() noexcept override { _out.clear(); }
};

struct probe_upgrade final : protocol_upgrade {
    std::string* pending;
    explicit probe_upgrade(std::string* p) : pending(p) {}
    std::unique_ptr<protocol> make(uint32_t slot, uint32_t gen, const peer_address&, std::string_view bytes,
                                   protocol_env&) override {
        check(slot == 5 && gen == 9, "(f) the new protocol made for another connection");
        pending->assign(bytes);
        return std::make_unique<probe_protocol>();
    }
};

/// A stream handed to the connection, and what its producer did with it.
struct stream_entry {
    std::shared_ptr<probe_stream> stream;
    uint64_t seq = 0;
    uint64_t produced = 0;      ///< body bytes sent with the stream's response
    bool producer_done = false; ///< the producer sent end or abort (it expects nothing more)
};

/// Per request (seq), as the dispatcher saw it and as the application answered it.
struct seq_record {
    bool dispatched = false; ///< went through the dispatcher (errors and CONNECT do not)
    bool to_app = false;
    bool upgrade = false; ///< a WebSocket handshake: the app may answer 101
    request_context ctx;
    bool handed = false;   ///< the app_request came out of the batch
    bool started = false;  ///< the application sent a head
    bool finished = false; ///< the application sent end or abort
    bool broken = false;   ///< the application made the response impossible to complete
    int64_t declared = -1;
    int stream = -1;      ///< index in streams, when streamed
    std::string produced; ///< body bytes the application produced, in order
};

/// The app's end of a streamed request body: records what the protocol pushed and how
/// it ended (exactly once, never both).
struct fuzz_body final : body_stream {
    uint64_t seq = 0;
    uint64_t pushed = 0;
    uint64_t taken = 0;
    int ends = 0;
    void push(std::string_view b) noexcept override {
        check(ends == 0, "(b) body bytes pushed after the body ended");
        pushed += b.size();
    }
    void finish() noexcept override {
        check(ends == 0, "(b) a body stream (or watch) ended twice");
        ++ends;
    }
    void fail(body_error) noexcept override {
        check(ends == 0, "(b) a body stream (or watch) ended twice");
        ++ends;
    }
    uint64_t unconsumed() const noexcept override { return pushed - taken; }
};

struct fuzz_bodies final : dispatch::body_stream_factory {
    std::vector<std::shared_ptr<fuzz_body>> made;
    std::shared_ptr<body_stream> make_body_stream(uint32_t, uint32_t, uint64_t seq) override {
        auto b = std::make_shared<fuzz_body>();
        b->seq = seq;
        made.push_back(b);
        return b;
    }
};

/// The runtime's dispatcher, recording what it was asked (the wire check needs to know
/// which responses answer HEAD or HTTP/1.0 requests, and which went to the app).
class recording_dispatcher final : public dispatcher {
  public:
    recording_dispatcher(dispatch::request_dispatcher& real, std::vector<seq_record>& seqs)
        : _real(real), _seqs(seqs) {}
    verdict on_request(protocol& conn, const request_event& ev, protocol_env& env,
                       std::shared_ptr<body_stream>& stream) override {
        if (_seqs.size() <= ev.seq) {
            _seqs.resize(ev.seq + 1);
        }
        seq_record& r = _seqs[ev.seq];
        check(!r.dispatched, "(d) a seq dispatched twice");
        r.dispatched = true;
        r.ctx = ev.ctx;
        verdict v = _real.on_request(conn, ev, env, stream);
        if (v == verdict::buffer) {
            r.dispatched = false; // reported again once its body is read
            return v;
        }
        r.upgrade = v == verdict::upgrade;
        r.to_app = v == verdict::to_app || v == verdict::streaming || r.upgrade;
        return v;
    }

  private:
    dispatch::request_dispatcher& _real;
    std::vector<seq_record>& _seqs;
};

/// The input, read front to back; zeros once it is exhausted.
class script {
  public:
    script(const uint8_t* data, size_t size) : _data(data), _size(size) {}
    bool done() const noexcept { return _pos >= _size; }
    uint8_t byte() noexcept { return _pos < _size ? _data[_pos++] : 0; }
    std::string_view bytes(size_t n) noexcept {
        n = std::min(n, _size - _pos);
        std::string_view v(reinterpret_cast<const char*>(_data + _pos), n);
        _pos += n;
        return v;
    }

  private:
    const uint8_t* _data;
    size_t _size;
    size_t _pos = 0;
};

/// What an answer or a streamed head takes from the script, in this order: which request
/// it is for, its flags, its body size (a byte times `unit`) and its status.
struct answer_bytes {
    uint8_t which;
    uint8_t flags;
    uint64_t size;
    uint16_t status;
};

answer_bytes read_answer(script& s, uint64_t unit) {
    answer_bytes a{};
    a.which = s.byte();
    a.flags = s.byte();
    a.size = uint64_t{s.byte()} * unit;
    a.status = app_statuses[s.byte() % std::size(app_statuses)];
    return a;
}

class connection_run {
  public:
    explicit connection_run(uint8_t config) : _app_limit((config & 4) ? 3 : 0), _websocket((config & 0x10) != 0) {
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
    ~connection_run() { traced_wire = nullptr; }
    connection_run(const connection_run&) = delete;
    connection_run& operator=(const connection_run&) = delete;

    void step(script& s);
    void finish();
    void finish_checks();
    /// Switched protocols: the run is over (the new protocol has its own fuzzer).
    bool switched() const noexcept { return _switched; }

  private:
    protocol_env env() { return protocol_env{_limits, date, _now, _draining, _counters, _recorder, _output_limit}; }
    uint64_t unsent() { return _conn.output().bytes() + _batch.remaining(); }

    void client_send(uint8_t count);
    void collect();
    seq_record* pick(uint8_t b, bool started, bool finished_ok = false);
    void build_head(response_head& h, uint64_t seq, uint16_t status, uint8_t flags, int64_t declared);
    void attach_body(app_response& m, seq_record& r, uint64_t size, uint8_t source);
    int new_stream(uint64_t seq);
    void deliver(app_response&& m);
    void answer(script& s);
    void stream_head(script& s);
    void stream_body(script& s);
    void stream_end(script& s);
    void abort_response(script& s);
    void accept_upgrade(seq_record& r);
    void check_switch(uint64_t seq);
    void feed(std::string_view bytes, protocol_env& e);
    void misbehave(script& s);
    void pass_time(uint8_t seconds);
    void send(uint8_t count, uint8_t shape);
    void turn();
    void close();
    void check_state();
    wire_summary check_wire() const;
    request_facts facts(uint64_t k) const;

    connection_limits _limits;
    core::core_counters _counters;
    std::atomic<uint32_t> _app_pending{0};
    uint32_t _app_limit = 0;
    bool _websocket = false; ///< config 0x10: WebSocket handshakes are in the canned table
    bool _switched = false;
    std::string _fed;     ///< every byte given to the connection, in order
    std::string _pending; ///< what the new protocol was given at the switch
    fuzz_bodies _bodies;
    dispatch::request_dispatcher _dispatcher{routes(), nullptr, &_app_pending, _app_limit, nullptr, &_bodies};
    std::vector<seq_record> _seqs;
    recording_dispatcher _recorder{_dispatcher, _seqs};
    http1_connection _conn;
    size_t _output_limit = SIZE_MAX;
    uint32_t _now = 1000;
    bool _draining = false;
    bool _peer_eof = false;
    bool _released = false;
    bool _reset = false; ///< released by op_gone (the client vanished mid-way)
    core::send_batch _batch;
    std::string _wire;   ///< bytes the reactor sent, in order
    std::string _client; ///< bytes the client has yet to send
    std::string _stash;  ///< bytes read while paused (the reactor's stash)
    std::vector<stream_entry> _streams;
    std::vector<std::weak_ptr<core::file_handle>> _files;
    uint64_t _produced_total = 0;
    size_t _handed = 0;   ///< app requests taken from the batch
    size_t _finished = 0; ///< of those, answered to the end (or aborted) by the app
    bool _was_closing = false;
    bool _flush_only = false; ///< close_after_flush() was seen
    uint64_t _flush_total = 0;
};

void connection_run::step(script& s) {
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

/// An app request in the wanted state (head sent or not; answered or not), chosen by `b`.
seq_record* connection_run::pick(uint8_t b, bool started, bool finished_ok) {
    size_t n = 0;
    for (const seq_record& r : _seqs) {
        n += r.handed && r.started == started && (finished_ok || !r.finished);
    }
    if (n == 0) {
        return nullptr;
    }
    size_t want = b % n;
    for (seq_record& r : _seqs) {
        if (r.handed && r.started == started && (finished_ok || !r.finished) && want-- == 0) {
            return &r;
        }
    }
    return nullptr;
}

/// Headers go through check_app_field as the application bridge sends them.
void connection_run::build_head(response_head& h, uint64_t seq, uint16_t status, uint8_t flags, int64_t declared) {
    std::string seq_text = std::to_string(seq);
    std::string length_text = std::to_string(declared);
    std::vector<std::pair<std::string_view, std::string_view>> fields = {{"X-Seq", seq_text},
                                                                         {"Content-Type", "text/plain"}};
    std::string_view connection = connection_values[(flags >> 4) & 3];
    if (!connection.empty()) {
        fields.emplace_back("Connection", connection);
    }
    if (flags & 0x40) {
        fields.emplace_back("Date", date);
        fields.emplace_back("Server", "probe");
    }
    if (flags & 0x80) {
        fields.emplace_back("Transfer-Encoding", "chunked");
    }
    if (declared >= 0) {
        fields.emplace_back("Content-Length", length_text);
        if (flags & 0x08) {
            fields.emplace_back("content-length", length_text); // the same length twice is one length
        }
    }
    h.status = status;
    int64_t length = -1;
    for (const auto& [name, value] : fields) {
        switch (check_app_field(name, value, h, length)) {
        case field_action::keep:
            h.fields.append(name);
            h.fields.append(": ");
            h.fields.append(value);
            h.fields.append("\r\n");
            break;
        case field_action::drop:
        case field_action::content_length:
            break;
        case field_action::bad_length:
            fail("check_app_field refused a valid length");
        }
    }
    check(length == declared, "check_app_field length");
    h.content_length = length;
}

void connection_run::attach_body(app_response& m, seq_record& r, uint64_t size, uint8_t source) {
    if (size == 0) {
        return;
    }
    m.parts |= app_response::part_body;
    _produced_total += size;
    if (source == 2) {
        uint64_t offset = (r.produced.size() * 7) % (file_size - size);
        std::string bytes(size, '\0');
        for (uint64_t i = 0; i < size; ++i) {
            bytes[i] = file_byte(offset + i);
        }
        r.produced += bytes;
        int fd = dup(shared_file());
        check(fd >= 0, "dup");
        app_response_more& more = m.rare();
        more.file = std::make_shared<core::file_handle>(fd);
        _files.push_back(more.file);
        more.file_offset = offset;
        more.file_length = size;
        return;
    }
    std::string bytes(size, '\0');
    for (uint64_t i = 0; i < size; ++i) {
        bytes[i] = body_byte(&r - _seqs.data(), r.produced.size() + i);
    }
    r.produced += bytes;
    if (source == 1) {
        auto kept = std::make_shared<kept_bytes>(std::move(bytes));
        m.rare().borrowed = kept->data;
        m.more->keep = kept;
    } else {
        m.body = std::move(bytes);
    }
}

int connection_run::new_stream(uint64_t seq) {
    stream_entry& e = _streams.emplace_back();
    e.stream = std::make_shared<probe_stream>();
    e.seq = seq;
    return static_cast<int>(_streams.size() - 1);
}

void connection_run::deliver(app_response&& m) {
    m.conn_slot = 5;
    m.conn_gen = 9;
    if ((m.parts & app_response::part_head) && _app_limit != 0 && _app_pending.load() > 0) {
        _app_pending.fetch_sub(1); // the reactor's admission count
    }
    // After release the reactor tells the stream itself (the slot is closing); delivering
    // to the released protocol must come to the same and queue nothing.
    auto e = env();
    _conn.on_app_message(std::move(m), e);
}

void connection_run::answer(script& s) {
    auto [which, flags, size, status] = read_answer(s, 13);
    seq_record* r = pick(which, false);
    if (r == nullptr || _produced_total > (1u << 20)) {
        return;
    }
    if (r->upgrade && status == 299) {
        accept_upgrade(*r);
        return;
    }
    uint64_t seq = static_cast<uint64_t>(r - _seqs.data());
    int64_t declared = static_cast<int64_t>(size);
    switch (flags & 3) {
    case 1:
        declared = -1;
        break;
    case 2:
        declared = size > 0 ? static_cast<int64_t>(size / 2) : 1;
        break;
    case 3:
        declared = static_cast<int64_t>(size) + 1;
        break;
    default:
        break;
    }
    app_response m;
    m.seq = seq;
    m.parts = app_response::part_head | app_response::part_end;
    build_head(m.start, seq, status, flags, declared);
    attach_body(m, *r, size, (flags >> 2) & 3);
    r->started = true;
    r->finished = true;
    r->declared = declared;
    r->broken = declared >= 0 && static_cast<uint64_t>(declared) != size;
    ++_finished;
    deliver(std::move(m));
}

/// The application accepts a WebSocket handshake (as ws_accept does: a head-only 101
/// carrying the upgrade, and a stream told if the switch cannot happen).
void connection_run::accept_upgrade(seq_record& r) {
    uint64_t seq = static_cast<uint64_t>(&r - _seqs.data());
    app_response m;
    m.seq = seq;
    m.parts = app_response::part_head;
    m.start.status = 101;
    m.start.fields =
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "X-Seq: " +
        std::to_string(seq) + "\r\n";
    m.rare().upgrade = std::make_shared<probe_upgrade>(&_pending);
    auto told = std::make_shared<probe_stream>();
    m.stream = told;
    r.started = true;
    r.finished = true;
    ++_finished;
    deliver(std::move(m));
    if (_conn.has_successor()) {
        check(told->closed == 0, "(f) switched, but the upgrade's stream was told it failed");
        check_switch(seq);
    } else {
        // Refused (not the oldest owed request, or the connection closes): the client
        // gets a cut instead of a 101, which the wire check allows for a broken answer.
        check(told->closed == 1, "(f) a refused 101 did not tell its stream");
        r.broken = true;
        if (tracing) {
            std::fprintf(stderr, "the 101 for request %llu was refused\n", static_cast<unsigned long long>(seq));
        }
    }
}

/// Appends everything in `q` to `wire` as the reactor would send it.
void drain_into(core::output_queue& q, std::string& wire) {
    core::send_batch b;
    while (q.take_front(b, 16, SIZE_MAX)) {
        while (!b.empty()) {
            if (b.is_file()) {
                const core::segment& f = b.front();
                std::string buf(f.length - f.done, '\0');
                ssize_t got = pread(f.file->fd, buf.data(), buf.size(), static_cast<off_t>(f.file_offset + f.done));
                check(got == static_cast<ssize_t>(buf.size()), "file segment read");
                wire += buf;
                b.consume(buf.size());
            } else {
                iovec iov[16];
                size_t cnt = b.iovecs(iov, 16);
                size_t sent = 0;
                for (size_t i = 0; i < cnt; ++i) {
                    wire.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
                    sent += iov[i].iov_len;
                }
                b.consume(sent);
            }
        }
        b.reset();
    }
}

void connection_run::check_switch(uint64_t seq) {
    std::unique_ptr<protocol> next = _conn.take_successor();
    check(next != nullptr && !_conn.has_successor(), "(f) the successor is taken once");
    check(!_conn.has_output(), "(f) bytes left in HTTP/1.1's queue after the switch");
    // The reactor finishes the batch in flight, then sends from the new protocol's queue.
    for (int guard = 0; guard < 100000 && !_batch.empty(); ++guard) {
        send(0, 0);
    }
    drain_into(next->output(), _wire);
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

void connection_run::stream_head(script& s) {
    auto [which, flags, size, status] = read_answer(s, 16);
    seq_record* r = pick(which, false);
    if (r == nullptr) {
        return;
    }
    uint64_t seq = static_cast<uint64_t>(r - _seqs.data());
    int64_t declared = (flags & 2) ? static_cast<int64_t>((flags & 1) ? size : size / 16) : -1;
    app_response m;
    m.seq = seq;
    m.parts = app_response::part_head;
    build_head(m.start, seq, status, flags, declared);
    r->started = true;
    r->declared = declared;
    r->stream = new_stream(seq);
    stream_entry& st = _streams[static_cast<size_t>(r->stream)];
    m.stream = st.stream;
    uint8_t source = (flags >> 2) & 3;
    if (source != 3 && _produced_total <= (1u << 20)) {
        attach_body(m, *r, size, source);
        st.produced += (m.parts & app_response::part_body) ? size : 0;
        r->broken = r->broken || (declared >= 0 && r->produced.size() > static_cast<uint64_t>(declared));
    }
    deliver(std::move(m));
}

void connection_run::stream_body(script& s) {
    uint8_t which = s.byte();
    uint8_t source = s.byte() % 3;
    uint64_t size = uint64_t{s.byte()} * 16;
    seq_record* r = pick(which, true);
    if (r == nullptr || r->stream < 0 || _produced_total > (1u << 20)) {
        return;
    }
    app_response m;
    m.seq = static_cast<uint64_t>(r - _seqs.data());
    m.parts = 0;
    attach_body(m, *r, size, source);
    if (m.parts == 0) {
        m.parts = app_response::part_body; // an empty piece
    }
    _streams[static_cast<size_t>(r->stream)].produced += size;
    r->broken = r->broken || (r->declared >= 0 && r->produced.size() > static_cast<uint64_t>(r->declared));
    deliver(std::move(m));
}

void connection_run::stream_end(script& s) {
    uint8_t which = s.byte();
    bool trailers = s.byte() & 1;
    seq_record* r = pick(which, true);
    if (r == nullptr) {
        return;
    }
    app_response m;
    m.seq = static_cast<uint64_t>(r - _seqs.data());
    m.parts = app_response::part_end;
    if (trailers) {
        m.rare().trailers = "X-Trailer: 1\r\n";
    }
    r->finished = true;
    r->broken = r->broken || (r->declared >= 0 && r->produced.size() != static_cast<uint64_t>(r->declared));
    if (r->stream >= 0) {
        _streams[static_cast<size_t>(r->stream)].producer_done = true;
    }
    ++_finished;
    deliver(std::move(m));
}

void connection_run::abort_response(script& s) {
    uint8_t which = s.byte();
    seq_record* r = pick(which, (which & 0x80) != 0);
    if (r == nullptr) {
        return;
    }
    app_response m;
    m.seq = static_cast<uint64_t>(r - _seqs.data());
    m.parts = app_response::part_abort;
    r->finished = true;
    r->broken = true;
    if (r->stream >= 0) {
        _streams[static_cast<size_t>(r->stream)].producer_done = true;
    }
    ++_finished;
    deliver(std::move(m));
}

/// Producer bugs the connection must survive: a second head, a body before the head, a
/// stream for a request that is not owed (unknown, or answered already).
void connection_run::misbehave(script& s) {
    uint8_t kind = s.byte() % 4;
    uint8_t which = s.byte();
    app_response m;
    switch (kind) {
    case 0: { // a second head on a started response, with a stream of its own
        seq_record* r = pick(which, true);
        if (r == nullptr) {
            return;
        }
        m.seq = static_cast<uint64_t>(r - _seqs.data());
        m.parts = app_response::part_head;
        build_head(m.start, m.seq, 200, 0, -1);
        int st = new_stream(m.seq);
        m.stream = _streams[static_cast<size_t>(st)].stream;
        r->broken = true;
        break;
    }
    case 1: { // a body before the head
        seq_record* r = pick(which, false);
        if (r == nullptr) {
            return;
        }
        m.seq = static_cast<uint64_t>(r - _seqs.data());
        m.parts = app_response::part_body;
        m.body = "early";
        r->broken = true;
        break;
    }
    default: { // a head and stream for a seq that is not owed
        m.seq = kind == 2 ? _conn.requests_seen() + which : 0;
        if (kind == 3) {
            seq_record* r = pick(which, true, true);
            if (r == nullptr || !r->finished) {
                return;
            }
            m.seq = static_cast<uint64_t>(r - _seqs.data());
        }
        m.parts = app_response::part_head | app_response::part_end;
        build_head(m.start, m.seq, 200, 0, 0);
        int st = new_stream(m.seq);
        auto probe = _streams[static_cast<size_t>(st)].stream;
        m.stream = probe;
        _streams[static_cast<size_t>(st)].producer_done = true;
        uint64_t before = _wire.size() + unsent();
        deliver(std::move(m));
        check(probe->closed == 1, "(b) a stream for a response not owed must be told on_closed at once");
        check(_wire.size() + unsent() == before, "(a) a message for a response not owed queued bytes");
        return;
    }
    }
    deliver(std::move(m));
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

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    script s(data, size);
    live_keeps = 0;
    {
        connection_run run(s.byte());
        while (!s.done() && !run.switched()) {
            run.step(s);
        }
        run.finish();
    }
    check(live_keeps == 0, "borrowed bytes outlived the connection");
    return 0;
}
