// HTTP/2 glue over libnghttp2's session API: the session and its callbacks, requests
// out of HEADERS/DATA frames into the dispatcher, flow control of request bodies, the
// attack limits, deadlines and drain. Responses are in h2/response.cpp.
#include "h2/stream.hpp"

#include "core/clock.hpp"
#include "core/sha1.hpp"
#include "core/strings.hpp"
#include "http/body_encoder.hpp"
#include "http/parser.hpp"
#include "http/response_features.hpp"
#include "http/response_writer.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace ringbolt::h2 {

namespace {

// One scratch head per reactor thread (a request_head is 4 KB).
thread_local http::request_head tl_head;

constexpr std::string_view text_plain = "Content-Type: text/plain; charset=utf-8\r\n";

connection& self(void* user_data) noexcept {
    return *static_cast<connection*>(user_data);
}

// ---- nghttp2 trampolines ----

ssize_t cb_send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
    self(user).append_out(data, length);
    return static_cast<ssize_t>(length);
}

int cb_send_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length, nghttp2_data_source*,
                 void* user) {
    return self(user).send_data(frame->hd.stream_id, framehd, length);
}

int cb_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    return self(user).on_begin_headers(frame->hd.stream_id);
}

int cb_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen, const uint8_t* value,
              size_t valuelen, uint8_t, void* user) {
    return self(user).on_header(frame->hd.stream_id, frame->hd.type, {reinterpret_cast<const char*>(name), namelen},
                                {reinterpret_cast<const char*>(value), valuelen});
}

int cb_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    return self(user).on_frame_recv(frame->hd.type, frame->hd.flags, frame->hd.stream_id);
}

int cb_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user) {
    return self(user).on_data_chunk(stream_id, {reinterpret_cast<const char*>(data), len});
}

int cb_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    return self(user).on_stream_close(stream_id, error_code);
}

int cb_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    uint32_t code = 0;
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        code = frame->rst_stream.error_code;
    } else if (frame->hd.type == NGHTTP2_GOAWAY) {
        code = frame->goaway.error_code;
    }
    return self(user).on_frame_send(frame->hd.type, frame->hd.stream_id, code);
}

const nghttp2_session_callbacks* callbacks() {
    static nghttp2_session_callbacks* cbs = [] {
        nghttp2_session_callbacks* c = nullptr;
        nghttp2_session_callbacks_new(&c);
        nghttp2_session_callbacks_set_send_callback(c, cb_send);
        nghttp2_session_callbacks_set_send_data_callback(c, cb_send_data);
        nghttp2_session_callbacks_set_on_begin_headers_callback(c, cb_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(c, cb_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(c, cb_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, cb_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(c, cb_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(c, cb_frame_send);
        return c;
    }();
    return cbs;
}

} // namespace

connection::connection(const settings& cfg) : _cfg(cfg), _hook(std::make_shared<drain_hook>(this)) {}

connection::~connection() {
    release();
    _hook->conn = nullptr; // a segment still holding the hook no longer reaches us
}

void connection::clear_output() noexcept {
    _out.clear();
    _hook_armed = false;
    _out_blocked = false;
}

void connection::open(uint32_t slot, uint32_t gen, const http::peer_address& peer, uint32_t now_s,
                      const http::connection_limits& lim) {
    release();
    start_over(slot, gen, peer, lim);
    _now_s = now_s;
    _successor.reset();
    clear_output();
    _resets.reset(_cfg.abuse.reset_burst, _cfg.abuse.reset_rate, now_s);
    _control.reset(_cfg.control_burst, _cfg.control_rate, now_s);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_continuations(opt, _cfg.max_continuations);
    // Request bodies: a stream's window is given back as its bytes are buffered whole or
    // taken by the app (connection::consume), so an app that does not read stops that
    // stream's client; the connection's window as DATA arrives (on_data_chunk).
    nghttp2_option_set_no_auto_window_update(opt, 1);
    // Our own caps come first (they are counted); nghttp2's built-in ones stay behind them.
    nghttp2_option_set_stream_reset_rate_limit(opt, uint64_t{_cfg.abuse.reset_burst} * 4,
                                               uint64_t{_cfg.abuse.reset_rate} * 4);
    nghttp2_session_server_new2(&_session, callbacks(), this, opt);
    nghttp2_option_del(opt);
    // A stream's window holds at least what the app's credit rule lets wait untaken
    // (http::body_credit_due): a full window then always ends in a credit.
    uint32_t stream_window =
        static_cast<uint32_t>(std::clamp<uint64_t>(lim.body_window, _cfg.initial_window, NGHTTP2_MAX_WINDOW_SIZE));
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, _cfg.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(lim.parser.max_head_bytes)},
        // RFC 8441 §3: extended CONNECT; nghttp2 then accepts (and checks) :protocol.
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    size_t entries = sizeof(iv) / sizeof(iv[0]) - (_cfg.websocket ? 0 : 1);
    nghttp2_submit_settings(_session, NGHTTP2_FLAG_NONE, iv, entries);
    nghttp2_session_set_local_window_size(_session, NGHTTP2_FLAG_NONE, 0, static_cast<int32_t>(_cfg.connection_window));
    _deadline = now_s + lim.keep_alive_timeout_s;
    flush(); // the server's preface (SETTINGS) goes first
}

bool connection::open_upgraded(std::string_view settings_payload, bool head_request) {
    auto st = std::make_unique<stream>();
    st->id = 1;
    st->headers_done = true;
    st->request_ended = true; // the HTTP/1.1 request came whole, its body with it
    stream* p = st.get();
    _streams.emplace(1, std::move(st));
    int rv = nghttp2_session_upgrade2(_session, reinterpret_cast<const uint8_t*>(settings_payload.data()),
                                      settings_payload.size(), head_request ? 1 : 0, p);
    if (rv != 0) {
        _streams.erase(1);
        return false;
    }
    return true;
}

void connection::release() noexcept {
    for (auto& [id, st] : _streams) {
        if (http::hosted_session* h = st->hosted(); h != nullptr) {
            h->release(); // the app hears 1006 unless it heard a close
        }
        if (st->control && !http::over(st->phase)) {
            st->control->on_closed();
        }
        if (st->watch) {
            st->watch->fail(http::body_error::disconnect);
        }
        if (st->body_stream) {
            st->body_stream->fail(http::body_error::disconnect);
        }
    }
    _streams.clear();
    if (_session != nullptr) {
        nghttp2_session_del(_session);
        _session = nullptr;
    }
    clear_output();
    _closing = true;
    _app_streams = 0;
    _deadline = 0;
}

bool connection::close_after_flush() const noexcept {
    if (_session == nullptr || _failed) {
        return true;
    }
    if (_closing && _app_streams == 0 && _streams.empty()) {
        return true;
    }
    return nghttp2_session_want_read(_session) == 0 && nghttp2_session_want_write(_session) == 0;
}

bool connection::on_data(std::string_view data, http::protocol_env& env) {
    if (_session == nullptr || _failed) {
        return false;
    }
    _env = &env;
    _now_s = env.now_s;
    _output_limit = env.output_limit;
    if (_out_blocked && _out.bytes() < _output_limit / 2) {
        on_output_drained();
    }
    ssize_t rv = nghttp2_session_mem_recv(_session, reinterpret_cast<const uint8_t*>(data.data()), data.size());
    if (rv < 0) [[unlikely]] {
        // A connection error nghttp2 found (bad preface, flood, too many CONTINUATIONs,
        // a frame that breaks the protocol): it queued a GOAWAY where it could; send it
        // and close.
        env.counters.h2_connection_errors.add();
        if (rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
            env.counters.h2_floods.add();
        }
        uint32_t code = rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                            ? NGHTTP2_ENHANCE_YOUR_CALM
                            : NGHTTP2_PROTOCOL_ERROR;
        if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
            nghttp2_session_terminate_session(_session, code);
        }
        http::log_connection_error(_peer, "HTTP/2", nghttp2_http2_strerror(code), code,
                                   nghttp2_strerror(static_cast<int>(rv)));
        flush();
        _failed = true;
        _closing = true;
        _env = nullptr;
        update_deadline();
        return true;
    }
    flush();
    _env = nullptr;
    update_deadline();
    return true;
}

void connection::pump(http::protocol_env& env) {
    (void)env;
}

// ---- the request side ----

int connection::on_begin_headers(int32_t id) {
    if (_closing) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // a stream after our GOAWAY: refused
    }
    auto st = std::make_unique<stream>();
    st->id = id;
    st->clock.head_begins(_now_s);
    _streams[id] = std::move(st);
    ++_requests_seen;
    if (_env != nullptr) {
        _env->counters.h2_streams.add();
    }
    return 0;
}

int connection::on_header(int32_t id, uint8_t frame_type, std::string_view name, std::string_view value) {
    if (frame_type != NGHTTP2_HEADERS) {
        return 0;
    }
    auto it = _streams.find(id);
    if (it == _streams.end()) {
        return 0;
    }
    stream& st = *it->second;
    if (st.headers_done) {
        return 0; // trailers: not passed on (the request is reported at its end without them)
    }
    // The header list limit is SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2).
    bool was_over = st.headers_over;
    st.take_field(name, value, _limits.parser.max_headers, _limits.parser.max_head_bytes);
    if (st.headers_over && !was_over && _env != nullptr) {
        _env->counters.h2_header_overflows.add();
    }
    return 0;
}

int connection::on_frame_recv(int type, uint8_t flags, int32_t id) {
    switch (type) {
    case NGHTTP2_HEADERS: {
        auto it = _streams.find(id);
        if (it == _streams.end()) {
            return 0;
        }
        stream& st = *it->second;
        if (!st.headers_done) {
            st.headers_done = true;
            st.clock.head_ends(_now_s, (flags & NGHTTP2_FLAG_END_STREAM) == 0);
            if (st.headers_over) {
                answer_error(st, 431, "request header fields too large");
                return 0;
            }
            if (st.method == "CONNECT") {
                begin_tunnel(st, _cfg.websocket);
                return 0;
            }
        }
        if (flags & NGHTTP2_FLAG_END_STREAM) {
            st.request_ended = true;
            st.clock.body_ends(); // (trailers end it too)
        }
        if ((flags & NGHTTP2_FLAG_END_STREAM) && !st.reported) {
            dispatch(st);
        } else if (!st.reported && !st.body_stream &&
                   (st.content_length < 0 || static_cast<uint64_t>(st.content_length) > _limits.stream_body_above)) {
            // A large body, or one of unknown length: a route that streams bodies gets the
            // request now and the body as it arrives (else the dispatcher says buffer).
            dispatch(st, true);
        }
        return 0;
    }
    case NGHTTP2_DATA: {
        if (flags & NGHTTP2_FLAG_END_STREAM) {
            auto it = _streams.find(id);
            if (it == _streams.end()) {
                return 0;
            }
            stream& st = *it->second;
            st.request_ended = true;
            st.clock.body_ends();
            if (st.tunnel) {
                tunnel_peer_end(st); // RFC 8441 §5: the ended stream ends the WebSocket
                return 0;
            }
            if (!st.end_body_stream() && !st.reported) {
                dispatch(st);
            }
        }
        return 0;
    }
    case NGHTTP2_RST_STREAM:
        // CVE-2023-44487 (rapid reset): a client that opens and cancels streams makes us
        // do the work of each without ever reading an answer.
        if (!_resets.take(_now_s)) [[unlikely]] {
            if (_env != nullptr) {
                _env->counters.h2_floods.add();
            }
            fatal(NGHTTP2_ENHANCE_YOUR_CALM, "too many streams reset (rapid reset)");
        }
        return 0;
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
        if (!(flags & NGHTTP2_FLAG_ACK) && !_control.take(_now_s)) [[unlikely]] {
            if (_env != nullptr) {
                _env->counters.h2_floods.add();
            }
            fatal(NGHTTP2_ENHANCE_YOUR_CALM, "too many SETTINGS and PING frames");
        }
        return 0;
    case NGHTTP2_GOAWAY:
        _closing = true; // the client goes: finish what is open
        return 0;
    default:
        return 0;
    }
}

int connection::on_data_chunk(int32_t id, std::string_view data) {
    // The connection's window is given back as DATA arrives, whatever becomes of it: a
    // stream whose app has not read yet holds its own window (at most), never the one all
    // streams share, so the others go on (else a few unread streams take the whole
    // connection window and every upload stops, issue 25). What a reset or refused stream
    // carried is the connection's again at once (RFC 9113 §6.9; nghttp2 credits DATA it
    // drops itself). Memory: each stream buffers at most its window.
    nghttp2_session_consume_connection(_session, data.size());
    auto it = _streams.find(id);
    if (it == _streams.end()) {
        nghttp2_session_consume_stream(_session, id, data.size());
        return 0;
    }
    stream& st = *it->second;
    st.received += data.size();
    if (st.tunnel) [[unlikely]] {
        tunnel_data(st, data); // a WebSocket's frames
        return 0;
    }
    st.clock.body_moves(_now_s, data.size());
    if (!st.take_data(data, _limits.max_body)) [[unlikely]] {
        answer_error(st, 413, "request body too large");
    }
    consume(st); // what the app took, what was dropped, or what is buffered whole (bounded by max_body)
    return 0;
}

int32_t connection::receive_window() const noexcept {
    return _session != nullptr ? nghttp2_session_get_local_window_size(_session) : 0;
}

void connection::consume(stream& st) {
    uint64_t upto = st.received;
    if (st.tunnel) {
        upto = tunnel_credit(st);
    } else if (st.body_stream && !st.body_failed) {
        uint64_t left = st.body_stream->unconsumed();
        upto = left < st.received ? st.received - left : 0;
    }
    if (upto > st.consumed && _session != nullptr) {
        nghttp2_session_consume_stream(_session, st.id, static_cast<size_t>(upto - st.consumed));
        st.consumed = upto;
        st.clock.body_credited(_now_s); // the window opens again: the body timeout counts from now
    }
}

void connection::answer_error(stream& st, uint16_t status, std::string_view why, std::string_view content_type) {
    st.reported = true;
    st.ctx = http::request_context{};
    if (_env != nullptr) {
        _env->dispatch.on_refused({_peer, st.method, st.path, http::version_http2, status, why.size()});
        respond(static_cast<uint64_t>(st.id), st.ctx, status, content_type.empty() ? text_plain : content_type, why,
                *_env);
    }
}

void connection::dispatch(stream& st, bool body_follows) {
    st.reported = true;
    if (_env == nullptr) {
        return;
    }
    http::protocol_env& env = *_env;
    http::report_result r = st.report(*this, static_cast<uint64_t>(st.id), http::version_http2, body_follows, _slot,
                                      _gen, _peer, _limits.parser, env, tl_head, st.tunnel != nullptr);
    if (r.to_app) {
        ++_app_streams;
    } else if (r.error != 0) [[unlikely]] {
        answer_error(st, r.error, r.why, r.content_type);
    }
}

// ---- the response side ----

connection::stream* connection::find(uint64_t seq) noexcept {
    auto it = _streams.find(static_cast<int32_t>(seq));
    return it == _streams.end() ? nullptr : it->second.get();
}

int connection::on_stream_close(int32_t id, uint32_t error_code) {
    (void)error_code;
    auto it = _streams.find(id);
    if (it == _streams.end()) {
        return 0;
    }
    stream& st = *it->second;
    if (http::hosted_session* h = st.hosted(); h != nullptr) {
        h->release(); // reset (RFC 8441 §5): 1006 for the app unless a close frame came
    }
    if (st.control && !http::over(st.phase)) {
        st.control->on_closed(); // reset by the client: the producer stops
    }
    if (st.watch) {
        st.watch->fail(http::body_error::disconnect); // the app hears the client left
    }
    if (st.body_stream) {
        st.body_stream->fail(http::body_error::disconnect); // reset before its body ended
    }
    if (st.from_app) {
        --_app_streams; // its later messages find no stream and are dropped
    }
    _streams.erase(it);
    if (_streams.empty()) {
        _deadline = _now_s + _limits.keep_alive_timeout_s;
    }
    return 0;
}

int connection::on_frame_send(int type, int32_t id, uint32_t error_code) {
    (void)id;
    if (_env == nullptr) {
        return 0;
    }
    if (type == NGHTTP2_RST_STREAM) {
        _env->counters.h2_resets_sent.add();
        if (error_code == NGHTTP2_REFUSED_STREAM) {
            _env->counters.h2_refused_streams.add();
        }
    } else if (type == NGHTTP2_GOAWAY) {
        _env->counters.h2_goaways_sent.add();
    }
    return 0;
}

void connection::flush() {
    if (_session == nullptr) {
        return;
    }
    if (nghttp2_session_send(_session) != 0) [[unlikely]] {
        _failed = true;
    }
}

void connection::fatal(uint32_t error_code, std::string_view why) {
    if (_session == nullptr) {
        return;
    }
    if (error_code != NGHTTP2_NO_ERROR && !_failed) {
        http::log_connection_error(_peer, "HTTP/2", nghttp2_http2_strerror(error_code), error_code, why);
    }
    nghttp2_session_terminate_session(_session, error_code);
    _closing = true;
    _failed = true;
}

// Deadlines: idle (no stream open) closes after keep_alive_timeout; each stream's clocks
// (http/stream_policy.hpp) run while it waits for the client: its head, its body (not
// while the app holds the body's window shut), its response while the client's window
// holds it (a response that moves, however slowly, is never cut). Streams whose requests
// are complete and whose answers do not wait for window wait for the app, without one.
void connection::update_deadline() {
    if (_session == nullptr || _failed) {
        _deadline = 0;
        return;
    }
    if (_streams.empty()) {
        if (_deadline == 0) {
            _deadline = _now_s + _limits.keep_alive_timeout_s;
        }
        return;
    }
    int32_t conn_window = nghttp2_session_get_remote_window_size(_session);
    uint32_t at = 0;
    for (auto& [id, st] : _streams) {
        int32_t own_window = st->pending_bytes > 0 ? nghttp2_session_get_stream_remote_window_size(_session, id) : 1;
        if (st->pending_bytes > 0 && (conn_window <= 0 || own_window <= 0)) {
            // (from when it last moved: send_data; a stream whose own window is open
            // waits for the connection's, which any stream's DATA moves)
            st->clock.send_waits(_now_s, own_window > 0);
        } else {
            st->clock.send_done();
        }
        uint32_t t = st->clock.next_check(_limits, _data_moved);
        at = t != 0 && (at == 0 || t < at) ? t : at;
        t = tunnel_deadline(*st); // a WebSocket's ping, ping timeout, close timeout, linger
        at = t != 0 && (at == 0 || t < at) ? t : at;
    }
    _deadline = at;
}

// A request whose head or body stalled (--header-timeout, --body-timeout, --min-body-rate)
// is reset (CANCEL: the server no longer wants it) and the app's read fails (408), as
// HTTP/1.1 ends a stalled request. A body whose window the app holds shut (it has not
// read) waits for the app, not the client: its clock starts again when credit goes out.
// A response that waited for the client's window for --write-timeout without moving ends
// the connection: a client that takes nothing holds it as long as it likes (a slow-read
// attack), an abuse, so GOAWAY ENHANCE_YOUR_CALM as the floods.
void connection::expire_streams() {
    for (auto& [id, st] : _streams) {
        if (st->hosted() != nullptr && expire_tunnel(*st)) {
            continue;
        }
        bool held = st->clock.body_since != 0 && nghttp2_session_get_stream_local_window_size(_session, id) <= 0;
        if (held) {
            st->clock.body_credited(_now_s);
        }
        http::stream_stall stall = st->clock.check(_now_s, _limits, held, _data_moved);
        if (stall == http::stream_stall::none) {
            continue;
        }
        if (_env != nullptr) {
            _env->counters.timeouts.add();
        }
        if (stall == http::stream_stall::send) {
            if (_env != nullptr) {
                _env->counters.h2_window_stalls.add();
            }
            fatal(NGHTTP2_ENHANCE_YOUR_CALM, "a response waited for the client's window too long");
            return;
        }
        if (st->body_stream && !st->body_failed) {
            st->body_failed = true;
            st->body_stream->fail(http::body_error::timeout);
        }
        st->request_ended = true;
        st->clock.head_since = 0;
        st->clock.body_ends();
        reset_stream(*st, NGHTTP2_CANCEL);
    }
}

void connection::each_stream(void (*fn)(http::stream_protocol&, http::stream_exchange&)) {
    for (auto& [id, st] : _streams) {
        fn(*this, *st);
    }
}

void connection::on_timeout(http::protocol_env& env) {
    _deadline = 0;
    if (_session == nullptr || _failed) {
        return;
    }
    _env = &env;
    _now_s = env.now_s;
    if (_streams.empty()) {
        env.counters.timeouts.add();
        fatal(NGHTTP2_NO_ERROR); // idle: GOAWAY, then close
    } else {
        expire_streams();
    }
    flush();
    _env = nullptr;
    update_deadline();
}

bool connection::begin_drain(uint32_t now_s, uint32_t grace_s) {
    (void)grace_s;
    _now_s = now_s;
    if (_session == nullptr || _failed) {
        return true;
    }
    if (!_closing) {
        // RFC 9113 §6.8: streams up to the last one we saw are answered; later ones the
        // client retries elsewhere.
        nghttp2_submit_goaway(_session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(_session),
                              NGHTTP2_NO_ERROR, nullptr, 0);
        _closing = true;
        for (auto& [id, st] : _streams) {
            tunnel_drain(*st); // a WebSocket closes with 1001, and the client's answer ends the stream
        }
        flush();
        update_deadline();
    }
    return _out.empty() && _streams.empty();
}

void connection::dispatch_upgraded(std::string_view head_bytes, std::string_view body, http::protocol_env& env) {
    stream* st = find(1);
    if (st == nullptr) {
        return;
    }
    _env = &env;
    _now_s = env.now_s;
    ++_requests_seen;
    env.counters.h2_streams.add();
    st->head.assign(head_bytes);
    st->body.assign(body);
    dispatch(*st);
    flush();
    _env = nullptr;
    update_deadline();
}

std::unique_ptr<http::protocol> starter::make(uint32_t slot, uint32_t gen, const http::peer_address& peer,
                                              std::string_view pending, http::protocol_env& env) {
    auto conn = std::make_unique<connection>(_cfg);
    conn->open(slot, gen, peer, env.now_s, env.limits);
    env.counters.h2_connections.add();
    if (!pending.empty()) {
        conn->on_data(pending, env);
    }
    return conn;
}

std::unique_ptr<http::protocol> starter::make_upgraded(uint32_t slot, uint32_t gen, const http::peer_address& peer,
                                                       const http::request_head& head, std::string_view head_bytes,
                                                       std::string_view body, http::protocol_env& env) {
    // RFC 7540 §3.2.1: exactly one HTTP2-Settings, base64url of a SETTINGS payload.
    int settings_count = 0;
    std::string_view http2_settings;
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        if (core::iequals(head.headers[i].name, "http2-settings")) {
            ++settings_count;
            http2_settings = head.headers[i].value;
        }
    }
    std::string payload;
    // (not strict: a trailing '=' and leftover bits are tolerated, as they always were here)
    if (settings_count != 1 || !core::base64url_decode(http2_settings, payload, false) || payload.size() % 6 != 0) {
        return nullptr; // not a SETTINGS payload: the request is answered as HTTP/1.1
    }
    bool head_request = head.method_id == http::method_head;
    auto conn = std::make_unique<connection>(_cfg);
    conn->open(slot, gen, peer, env.now_s, env.limits);
    if (!conn->open_upgraded(payload, head_request)) {
        return nullptr;
    }
    env.counters.h2_connections.add();
    conn->dispatch_upgraded(head_bytes, body, env);
    return conn;
}

} // namespace ringbolt::h2
