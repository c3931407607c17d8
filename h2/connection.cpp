// HTTP/2 glue over libnghttp2's session API: requests out of HEADERS/DATA frames into
// the dispatcher, responses into HEADERS/DATA frames (no copy of the body into nghttp2:
// DATA payloads go from the stream's pending pieces straight into the output queue).
#include "h2/connection.hpp"

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

char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

// RFC 9113 §8.2.2: connection-specific fields never appear in HTTP/2.
bool connection_specific(std::string_view name) noexcept {
    return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "proxy-connection") ||
           iequals(name, "transfer-encoding") || iequals(name, "upgrade");
}

// Response fields as HPACK name/value pairs: "Name: value\r\n" lines, names lowercased
// into `store` (reserved up front: the pairs point into it).
class field_list {
  public:
    explicit field_list(size_t bytes) { _store.reserve(bytes + 64); }
    void add(std::string_view name, std::string_view value) {
        size_t at = _store.size();
        for (char c : name) {
            _store.push_back(lower(c));
        }
        _store.append(value);
        _spans.push_back({at, name.size(), value.size()});
    }
    void add_lines(std::string_view lines) {
        while (!lines.empty()) {
            size_t eol = lines.find("\r\n");
            std::string_view line = lines.substr(0, eol);
            lines = eol == std::string_view::npos ? std::string_view() : lines.substr(eol + 2);
            size_t colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0) {
                continue;
            }
            std::string_view name = line.substr(0, colon);
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
                value.remove_prefix(1);
            }
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
                value.remove_suffix(1);
            }
            if (connection_specific(name)) {
                continue;
            }
            add(name, value);
        }
    }
    std::vector<nghttp2_nv>& nva() {
        _nv.clear();
        for (const span& s : _spans) {
            auto* base = reinterpret_cast<uint8_t*>(_store.data());
            _nv.push_back({base + s.at, base + s.at + s.name, s.name, s.value, NGHTTP2_NV_FLAG_NONE});
        }
        return _nv;
    }

  private:
    struct span {
        size_t at;
        size_t name;
        size_t value;
    };
    std::string _store;
    std::vector<span> _spans;
    std::vector<nghttp2_nv> _nv;
};

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

ssize_t cb_read(nghttp2_session*, int32_t stream_id, uint8_t*, size_t length, uint32_t* data_flags,
                nghttp2_data_source*, void* user) {
    return self(user).read_body(stream_id, length, data_flags);
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

/// One stream: its request as it arrives, then its response as it is produced.
struct connection::stream {
    int32_t id = 0;
    // The request: an HTTP/1.1 head is synthesized from the pseudo-headers and fields so
    // the dispatcher and the app see the same request_head as for HTTP/1.1.
    std::string method, path, authority;
    std::string fields; ///< "name: value\r\n" lines (names as received: lower case)
    std::string cookie; ///< RFC 9113 §8.2.3: cookie crumbs joined with "; "
    std::string head;   ///< the synthesized head (built when the headers end)
    std::string body;
    size_t header_bytes = 0;
    size_t header_count = 0;
    int64_t content_length = -1; ///< the request's content-length field (-1: none)
    // A body streamed to the app: pushed as DATA arrives; the client's window is given
    // back only as the app takes it (WINDOW_UPDATE follows the app's reads).
    std::shared_ptr<http::body_stream> body_stream;
    uint64_t received = 0; ///< DATA payload bytes of this stream
    uint64_t consumed = 0; ///< of which given back to the flow-control window
    bool body_failed = false;
    bool headers_over = false; ///< over the header list limits: answered 431
    bool headers_done = false;
    bool reported = false; ///< dispatched (or answered)
    // The response.
    http::request_context ctx;
    bool from_app = false; ///< counted in _app_streams until the app's end (or the stream's)
    bool started = false;  ///< HEADERS submitted
    bool ended = false;    ///< the whole body is in `pending` (or the response failed)
    bool no_body = false;  ///< HEAD / 204 / 304: body pieces are dropped
    bool deferred = false; ///< the data provider waits for pieces
    int64_t declared = -1; ///< Content-Length the response announced
    uint64_t given = 0;    ///< body bytes the producer gave
    struct piece {
        std::string bytes;
        std::string_view view; ///< borrowed (kept alive by keep) when bytes is empty
        std::shared_ptr<const void> keep;
        std::shared_ptr<http::file_handle> file;
        uint64_t offset = 0; ///< file: where the rest starts; memory: bytes already framed
        uint64_t left = 0;
    };
    std::deque<piece> pending;
    uint64_t pending_bytes = 0;
    std::string trailers;
    std::shared_ptr<http::stream_control> control;
    std::shared_ptr<http::body_stream> watch;
};

struct connection::drain_hook final : public http::send_credit {
    connection* conn;
    explicit drain_hook(connection* c) : conn(c) {}
    void on_sent(size_t) noexcept override {
        if (conn != nullptr) {
            conn->_hook_armed = false;
            conn->on_output_drained();
        }
    }
};

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

// The output queue drained down to the frame that carried the hook: responses that
// waited for it go on (called on the reactor thread as the bytes reach the kernel).
void connection::on_output_drained() {
    if (!_out_blocked || _session == nullptr) {
        return;
    }
    _out_blocked = false;
    for (auto& [id, st] : _streams) {
        if (st->pending_bytes > 0) {
            resume(*st);
        }
    }
    flush();
}

void connection::open(uint32_t slot, uint32_t gen, const http::peer_address& peer, uint32_t now_s,
                      const http::connection_limits& lim) {
    release();
    _slot = slot;
    _gen = gen;
    _peer = peer;
    _now_s = now_s;
    _limits = lim;
    _closing = false;
    _failed = false;
    _draining = false;
    _app_streams = 0;
    _requests_seen = 0;
    _stall_since = 0;
    _successor.reset();
    clear_output();
    _resets.reset(_cfg.reset_burst, _cfg.reset_rate, now_s);
    _control.reset(_cfg.control_burst, _cfg.control_rate, now_s);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_continuations(opt, _cfg.max_continuations);
    // Request bodies: the window is given back as bytes are buffered or taken by the app
    // (connection::consume), so an app that does not read stops the client.
    nghttp2_option_set_no_auto_window_update(opt, 1);
    // Our own caps come first (they are counted); nghttp2's built-in ones stay behind them.
    nghttp2_option_set_stream_reset_rate_limit(opt, uint64_t{_cfg.reset_burst} * 4, uint64_t{_cfg.reset_rate} * 4);
    nghttp2_session_server_new2(&_session, callbacks(), this, opt);
    nghttp2_option_del(opt);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, _cfg.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, _cfg.initial_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(lim.parser.max_head_bytes)},
    };
    nghttp2_submit_settings(_session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    nghttp2_session_set_local_window_size(_session, NGHTTP2_FLAG_NONE, 0, static_cast<int32_t>(_cfg.connection_window));
    _deadline = now_s + lim.keep_alive_timeout_s;
    flush(); // the server's preface (SETTINGS) goes first
}

bool connection::open_upgraded(std::string_view settings_payload, bool head_request) {
    auto st = std::make_unique<stream>();
    st->id = 1;
    st->headers_done = true;
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
        if (st->control && !st->ended) {
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
        if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
            nghttp2_session_terminate_session(_session,
                                              rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                                                  ? NGHTTP2_ENHANCE_YOUR_CALM
                                                  : NGHTTP2_PROTOCOL_ERROR);
        }
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
    // The header list limit (SETTINGS_MAX_HEADER_LIST_SIZE, RFC 9113 §6.5.2 counts 32
    // bytes per field) also bounds what an HPACK bomb expands to: past it nothing more
    // is kept, and the stream is answered 431.
    st.header_bytes += name.size() + value.size() + 32;
    if (++st.header_count > _limits.parser.max_headers || st.header_bytes > _limits.parser.max_head_bytes) {
        if (!st.headers_over && _env != nullptr) {
            _env->counters.h2_header_overflows.add();
        }
        st.headers_over = true;
        return 0;
    }
    if (st.headers_over) {
        return 0;
    }
    if (!name.empty() && name[0] == ':') {
        if (name == ":method") {
            st.method.assign(value);
        } else if (name == ":path") {
            st.path.assign(value);
        } else if (name == ":authority") {
            st.authority.assign(value);
        }
        return 0; // :scheme: the connection knows (peer.secure); nghttp2 checked it is there
    }
    if (name == "cookie") {
        if (!st.cookie.empty()) {
            st.cookie.append("; ");
        }
        st.cookie.append(value);
        return 0;
    }
    if (name == "content-length") {
        int64_t v = 0;
        for (char c : value) {
            v = c >= '0' && c <= '9' && v < (int64_t{1} << 50) ? v * 10 + (c - '0') : -1;
            if (v < 0) {
                break;
            }
        }
        st.content_length = value.empty() ? -1 : v; // nghttp2 checks it against the DATA
    }
    if (name == "host" && !st.authority.empty()) {
        return 0; // RFC 9113 §8.3.1: :authority wins
    }
    st.fields.append(name).append(": ").append(value).append("\r\n");
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
            if (st.headers_over) {
                answer_error(st, 431, "request header fields too large");
                return 0;
            }
            if (st.method == "CONNECT") {
                answer_error(st, 501, "CONNECT is not supported"); // RFC 9113 §8.5: no tunnels here
                return 0;
            }
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
            if (st.body_stream) {
                if (!st.body_failed) {
                    st.body_stream->finish();
                }
                st.body_stream.reset();
            } else if (!st.reported) {
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
            fatal(NGHTTP2_ENHANCE_YOUR_CALM);
        }
        return 0;
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
        if (!(flags & NGHTTP2_FLAG_ACK) && !_control.take(_now_s)) [[unlikely]] {
            if (_env != nullptr) {
                _env->counters.h2_floods.add();
            }
            fatal(NGHTTP2_ENHANCE_YOUR_CALM);
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
    auto it = _streams.find(id);
    if (it == _streams.end()) {
        return 0;
    }
    stream& st = *it->second;
    st.received += data.size();
    if (st.body_stream) {
        if (st.body_failed) {
            consume(st);
        } else if (st.received > _limits.max_body) {
            st.body_failed = true; // the app's read raises (413) and it answers
            st.body_stream->fail(http::body_error::too_large);
            consume(st);
        } else {
            st.body_stream->push(data);
            consume(st); // what the app already took
        }
        return 0;
    }
    if (st.reported) {
        consume(st); // answered already (413, 431): the rest is dropped
        return 0;
    }
    if (st.body.size() + data.size() > _limits.max_body) {
        answer_error(st, 413, "request body too large");
        consume(st);
        return 0;
    }
    st.body.append(data);
    consume(st); // buffered whole (bounded by max_body): the window opens at once
    return 0;
}

void connection::consume(stream& st) {
    uint64_t upto = st.received;
    if (st.body_stream && !st.body_failed) {
        uint64_t left = st.body_stream->unconsumed();
        upto = left < st.received ? st.received - left : 0;
    }
    if (upto > st.consumed && _session != nullptr) {
        nghttp2_session_consume(_session, st.id, static_cast<size_t>(upto - st.consumed));
        st.consumed = upto;
    }
}

void connection::answer_error(stream& st, uint16_t status, std::string_view why) {
    st.reported = true;
    st.ctx = http::request_context{};
    if (_env != nullptr) {
        respond(static_cast<uint64_t>(st.id), st.ctx, status, text_plain, why, *_env);
    }
}

void connection::dispatch(stream& st, bool body_follows) {
    st.reported = true;
    if (_env == nullptr) {
        return;
    }
    http::protocol_env& env = *_env;
    if (st.head.empty()) {
        st.head.reserve(st.method.size() + st.path.size() + st.authority.size() + st.fields.size() + st.cookie.size() +
                        48);
        st.head.append(st.method).append(" ").append(st.path).append(" HTTP/1.1\r\n");
        if (!st.authority.empty()) {
            st.head.append("host: ").append(st.authority).append("\r\n");
        }
        st.head.append(st.fields);
        if (!st.cookie.empty()) {
            st.head.append("cookie: ").append(st.cookie).append("\r\n");
        }
        st.head.append("\r\n");
        std::string().swap(st.fields);
        std::string().swap(st.cookie);
    }
    http::request_head& head = tl_head;
    http::parse_outcome r = http::parse_request_head(st.head, head, _limits.parser);
    if (r.status != http::parse_status::complete || r.consumed != st.head.size()) [[unlikely]] {
        // What HPACK allowed but HTTP does not (a bad method token or target, a field
        // value the HTTP/1.1 rules refuse): the same answer HTTP/1.1 gives.
        env.counters.parse_errors.add();
        http::http_error err = r.status == http::parse_status::error ? r.error : http::http_error::bad_request;
        answer_error(st, http::status_of(err), http::reason_of(err));
        return;
    }
    head.version_minor = http::version_http2;
    st.ctx = http::request_context{http::version_http2, head.method_id == http::method_head, true};
    http::request_event ev{head,   st.head, st.body, body_follows, static_cast<uint64_t>(st.id),
                           st.ctx, _slot,   _gen,    _peer};
    std::shared_ptr<http::body_stream> watch;
    http::dispatcher::verdict v = env.dispatch.on_request(*this, ev, env, watch);
    if (v == http::dispatcher::verdict::buffer) {
        st.reported = false; // read the whole body, then report it again
        return;
    }
    env.counters.requests.add();
    if (v == http::dispatcher::verdict::answered) {
        return;
    }
    if (v == http::dispatcher::verdict::streaming) {
        st.from_app = true;
        ++_app_streams;
        st.body_stream = std::move(watch);
        if (st.received > 0) {
            st.body_stream->push(st.body); // DATA that came with the head
            std::string().swap(st.body);
        }
        return;
    }
    if (v == http::dispatcher::verdict::to_app || v == http::dispatcher::verdict::upgrade) {
        st.from_app = true;
        ++_app_streams;
        st.watch = std::move(watch);
        return;
    }
    // buffer / streaming are only asked for bodies that follow: never here.
    answer_error(st, 500, "unexpected dispatch verdict");
}

// ---- the response side ----

connection::stream* connection::find(uint64_t seq) noexcept {
    auto it = _streams.find(static_cast<int32_t>(seq));
    return it == _streams.end() ? nullptr : it->second.get();
}

void connection::start_response(stream& st, uint16_t status, std::string_view fields, int64_t length, bool has_date,
                                bool has_server, bool body_follows) {
    static const http::server_fields defaults;
    const http::server_fields& added = _env != nullptr && _env->fields != nullptr ? *_env->fields : defaults;
    bool forbids = http::status_forbids_body(status);
    st.no_body = forbids || st.ctx.head_request;
    st.declared = length;
    st.started = true;
    std::string feature_fields;
    if (st.ctx.features != nullptr) [[unlikely]] {
        http::append_feature_fields(st.ctx, fields, feature_fields);
    }
    field_list list(fields.size() + feature_fields.size() + added.extra.size() + 96);
    char code[3] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10)};
    list.add(":status", {code, 3});
    if (!has_server) {
        list.add_lines(added.server);
    }
    if (!has_date && added.date && _env != nullptr) {
        list.add("date", _env->date);
    }
    list.add_lines(added.extra);
    list.add_lines(fields);
    list.add_lines(feature_fields);
    char len[24];
    if (!forbids && length >= 0) {
        int n = std::snprintf(len, sizeof(len), "%lld", static_cast<long long>(length));
        list.add("content-length", {len, static_cast<size_t>(n)});
    }
    if (_env != nullptr) {
        _env->counters.count_status(status);
    }
    std::vector<nghttp2_nv>& nva = list.nva();
    if (body_follows && !st.no_body) {
        nghttp2_data_provider prd;
        prd.source.ptr = nullptr;
        prd.read_callback = cb_read;
        nghttp2_submit_response(_session, st.id, nva.data(), nva.size(), &prd);
    } else {
        st.no_body = true;
        nghttp2_submit_response(_session, st.id, nva.data(), nva.size(), nullptr);
    }
}

void connection::respond(uint64_t seq, const http::request_context& ctx, uint16_t status, std::string_view fields,
                         std::string_view body, http::protocol_env& env) {
    stream* st = find(seq);
    if (st == nullptr || st->started || _session == nullptr) {
        return;
    }
    http::protocol_env* saved = _env;
    _env = &env;
    if (&st->ctx != &ctx) {
        st->ctx = ctx;
    }
    std::string all;
    std::string coded;
    if (ctx.features != nullptr && ctx.features->compression.enabled) [[unlikely]] {
        http::compression_plan p =
            http::plan_compression(*ctx.features, ctx, status, fields, static_cast<int64_t>(body.size()), false);
        if (p.vary) {
            if (p.coding != http::content_coding::identity &&
                !http::compress_whole(
                    p.coding, http::compression_level(ctx.features->compression, p.coding, body.size()), body, coded)) {
                p.coding = http::content_coding::identity;
            }
            all.assign(fields);
            http::append_compression_fields(p, all);
            fields = all;
            if (p.coding != http::content_coding::identity) {
                body = coded;
            }
        }
    }
    start_response(*st, status, fields, static_cast<int64_t>(body.size()), false, false, !body.empty());
    if (!st->no_body) {
        stream::piece& p = st->pending.emplace_back();
        p.bytes.assign(body);
        p.left = body.size();
        st->pending_bytes += body.size();
    }
    st->ended = true;
    if (saved == nullptr) {
        flush(); // outside a receive (an app message path): send now
    }
    _env = saved;
    update_deadline();
}

void connection::respond_file(uint64_t seq, const http::request_context& ctx, uint16_t status, std::string_view fields,
                              std::shared_ptr<http::file_handle> file, uint64_t offset, uint64_t length,
                              http::protocol_env& env) {
    stream* st = find(seq);
    if (st == nullptr || st->started || _session == nullptr) {
        return;
    }
    http::protocol_env* saved = _env;
    _env = &env;
    if (&st->ctx != &ctx) {
        st->ctx = ctx;
    }
    start_response(*st, status, fields, static_cast<int64_t>(length), false, false, file != nullptr && length > 0);
    if (!st->no_body && file) {
        stream::piece& p = st->pending.emplace_back();
        p.file = std::move(file);
        p.offset = offset;
        p.left = length;
        st->pending_bytes += length;
    }
    st->ended = true;
    if (saved == nullptr) {
        flush();
    }
    _env = saved;
    update_deadline();
}

void connection::reset_stream(stream& st, uint32_t error_code) {
    if (st.control && !st.ended) {
        st.control->on_closed();
    }
    st.control.reset();
    st.ended = true;
    st.pending.clear();
    st.pending_bytes = 0;
    if (st.from_app) {
        st.from_app = false;
        --_app_streams;
    }
    nghttp2_submit_rst_stream(_session, NGHTTP2_FLAG_NONE, st.id, error_code);
}

void connection::on_app_message(http::app_response&& m, http::protocol_env& env) {
    if (m.parts == http::app_response::part_read_more || _session == nullptr) {
        if (m.stream && _session == nullptr) {
            m.stream->on_closed();
        }
        if (_session != nullptr) {
            // The app took streamed body bytes: WINDOW_UPDATE for what it took.
            if (stream* sp = find(m.seq); sp != nullptr && sp->body_stream) {
                consume(*sp);
                flush();
            }
        }
        return;
    }
    stream* sp = find(m.seq);
    if (sp == nullptr || sp->ended) [[unlikely]] {
        if (m.stream) {
            m.stream->on_closed(); // the stream is gone (reset by the client, or answered)
        }
        return;
    }
    stream& st = *sp;
    _env = &env;
    _now_s = env.now_s;
    _output_limit = env.output_limit;
    bool has_body = (m.parts & http::app_response::part_body) != 0;
    bool end = (m.parts & http::app_response::part_end) != 0;
    bool abort = (m.parts & http::app_response::part_abort) != 0;
    if (m.parts & http::app_response::part_head) {
        if (st.started || m.upgrade || m.start.status < 200) [[unlikely]] {
            // A second head, a 101 (no upgrades inside HTTP/2, RFC 9113 §8.6) or an
            // interim status as the answer: the producer is broken.
            if (m.stream) {
                m.stream->on_closed();
            }
            reset_stream(st, NGHTTP2_INTERNAL_ERROR);
            flush();
            _env = nullptr;
            return;
        }
        st.control = std::move(m.stream);
        const http::response_head& h = m.start;
        std::string_view fields = h.fields.empty() ? h.static_fields : std::string_view(h.fields);
        std::string_view body = !m.borrowed.empty() ? m.borrowed : std::string_view(m.body);
        bool whole = has_body && end && !abort && !m.file;
        int64_t length = h.content_length;
        std::string all;
        std::string coded;
        if (st.ctx.features != nullptr && st.ctx.features->compression.enabled && whole) [[unlikely]] {
            // Compression of whole answers (a streamed one goes out as it is).
            int64_t len = length >= 0 ? length : static_cast<int64_t>(body.size());
            http::compression_plan p = http::plan_compression(*st.ctx.features, st.ctx, h.status, fields, len, false);
            if (p.vary && (length < 0 || static_cast<uint64_t>(length) == body.size())) {
                if (p.coding != http::content_coding::identity &&
                    !http::compress_whole(p.coding,
                                          http::compression_level(st.ctx.features->compression, p.coding, body.size()),
                                          body, coded)) {
                    p.coding = http::content_coding::identity;
                }
                all.assign(fields);
                http::append_compression_fields(p, all);
                fields = all;
                if (p.coding != http::content_coding::identity) {
                    if (st.control) {
                        st.control->on_sent(body.size()); // the producer's bytes are consumed here
                    }
                    m.body = std::move(coded);
                    m.borrowed = {};
                    m.keep.reset();
                    length = static_cast<int64_t>(m.body.size());
                }
            }
        }
        if (whole && length < 0) {
            length = static_cast<int64_t>(!m.borrowed.empty() ? m.borrowed.size() : m.body.size());
        }
        bool body_follows = has_body || !end;
        start_response(st, h.status, fields, length, h.has_date, h.has_server, body_follows);
    } else if (!st.started) [[unlikely]] {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR); // body before head
        flush();
        _env = nullptr;
        return;
    }
    if (has_body && !abort) {
        uint64_t n = m.file ? m.file_length : (!m.borrowed.empty() ? m.borrowed.size() : m.body.size());
        if (st.declared >= 0 && st.given + n > static_cast<uint64_t>(st.declared)) [[unlikely]] {
            abort = true; // more than the announced Content-Length
        } else if (st.no_body) {
            if (st.control && !m.file) {
                st.control->on_sent(n); // nothing goes out: the producer goes on
            }
        } else if (n > 0) {
            st.given += n;
            stream::piece& p = st.pending.emplace_back();
            if (m.file) {
                p.file = std::move(m.file);
                p.offset = m.file_offset;
            } else if (!m.borrowed.empty()) {
                p.view = m.borrowed;
                p.keep = std::move(m.keep);
            } else {
                p.bytes = std::move(m.body);
            }
            p.left = n;
            st.pending_bytes += n;
        }
    }
    if (abort) [[unlikely]] {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR); // the client can tell the response is incomplete
    } else if (end) {
        if (st.declared >= 0 && st.given != static_cast<uint64_t>(st.declared) && !st.no_body) [[unlikely]] {
            reset_stream(st, NGHTTP2_INTERNAL_ERROR); // fewer bytes than announced
        } else {
            st.ended = true;
            st.trailers = std::move(m.trailers);
            if (st.from_app) {
                st.from_app = false;
                --_app_streams;
            }
            if (st.watch) {
                st.watch->finish();
                st.watch.reset();
            }
            if (st.body_stream && !st.body_failed) {
                // Answered before its body ended: the rest is read and dropped (RFC 9113
                // §8.1 lets the client stop); the app no longer reads it.
                st.body_failed = true;
                st.body_stream->fail(http::body_error::disconnect);
                consume(st);
            }
        }
    }
    resume(st);
    flush();
    _env = nullptr;
    update_deadline();
}

void connection::resume(stream& st) {
    if (st.deferred) {
        st.deferred = false;
        nghttp2_session_resume_data(_session, st.id);
    }
}

long connection::read_body(int32_t id, size_t length, uint32_t* flags) {
    stream* st = find(static_cast<uint64_t>(id));
    if (st == nullptr) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (st->pending_bytes == 0) {
        if (!st->ended) {
            st->deferred = true; // resumed when the producer gives more
            return NGHTTP2_ERR_DEFERRED;
        }
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!st->trailers.empty()) {
            field_list list(st->trailers.size());
            list.add_lines(st->trailers);
            std::vector<nghttp2_nv>& nva = list.nva();
            if (nghttp2_submit_trailer(_session, id, nva.data(), nva.size()) == 0) {
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            }
        }
        return 0;
    }
    if (_hook_armed && _out.bytes() >= _output_limit) {
        // Backpressure: the client reads slower than we produce. Wait until the queue
        // drains (the hook on the DATA frame header that filled it says when; without a
        // hook in the queue this frame goes and carries one).
        st->deferred = true;
        _out_blocked = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, st->pending_bytes));
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (st->ended && n == st->pending_bytes && st->trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<long>(n);
}

int connection::send_data(int32_t id, const uint8_t* framehd, size_t length) {
    stream* st = find(static_cast<uint64_t>(id));
    if (st == nullptr || st->pending_bytes < length) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (_out.bytes() + length >= _output_limit) {
        // This frame fills the queue: its header tells us when the queue has drained to it.
        _out.append_credited({reinterpret_cast<const char*>(framehd), 9}, _hook);
        _hook_armed = true;
    } else {
        _out.append({reinterpret_cast<const char*>(framehd), 9});
    }
    size_t left = length;
    while (left > 0) {
        stream::piece& p = st->pending.front();
        size_t take = static_cast<size_t>(std::min<uint64_t>(left, p.left));
        if (p.file) {
            std::string buf(take, '\0');
            size_t got = 0;
            while (got < take) {
                ssize_t r = ::pread(p.file->fd, buf.data() + got, take - got, static_cast<off_t>(p.offset + got));
                if (r < 0 && errno == EINTR) {
                    continue;
                }
                if (r <= 0) {
                    break;
                }
                got += static_cast<size_t>(r);
            }
            if (got < take) {
                // The file shrank under the response: the frame cannot be completed.
                _failed = true;
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
            if (st->control) {
                _out.append_owned(std::move(buf), st->control);
            } else {
                _out.append_owned(std::move(buf));
            }
            p.offset += take;
        } else {
            std::string_view all = p.bytes.empty() ? p.view : std::string_view(p.bytes);
            std::string_view part = all.substr(static_cast<size_t>(p.offset), take);
            if (st->control) {
                _out.append_credited(part, st->control);
            } else {
                _out.append(part);
            }
            p.offset += take;
        }
        p.left -= take;
        left -= take;
        st->pending_bytes -= take;
        if (p.left == 0) {
            st->pending.pop_front();
        }
    }
    return 0;
}

int connection::on_stream_close(int32_t id, uint32_t error_code) {
    (void)error_code;
    auto it = _streams.find(id);
    if (it == _streams.end()) {
        return 0;
    }
    stream& st = *it->second;
    if (st.control && !st.ended) {
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

void connection::fatal(uint32_t error_code) {
    if (_session == nullptr) {
        return;
    }
    nghttp2_session_terminate_session(_session, error_code);
    _closing = true;
    _failed = true;
}

// Deadlines: idle (no stream open) closes after keep_alive_timeout; a response that
// waits for the client's flow-control window (a zero window the client never opens)
// closes after body_timeout.
void connection::update_deadline() {
    if (_session == nullptr || _failed) {
        _deadline = 0;
        return;
    }
    if (_streams.empty()) {
        if (_deadline == 0) {
            _deadline = _now_s + _limits.keep_alive_timeout_s;
        }
        _stall_since = 0;
        return;
    }
    bool stalled = false;
    int32_t conn_window = nghttp2_session_get_remote_window_size(_session);
    for (auto& [id, st] : _streams) {
        if (st->pending_bytes > 0 &&
            (conn_window <= 0 || nghttp2_session_get_stream_remote_window_size(_session, id) <= 0)) {
            stalled = true;
            break;
        }
    }
    if (!stalled) {
        _stall_since = 0;
        _deadline = 0; // streams are open: the app or the client is working on them
        return;
    }
    if (_stall_since == 0) {
        _stall_since = _now_s;
    }
    _deadline = _stall_since + _limits.body_timeout_s;
}

void connection::on_peer_eof(http::protocol_env& env) {
    (void)env;
    _closing = true;
    for (auto& [id, st] : _streams) {
        if (st->watch) {
            st->watch->fail(http::body_error::disconnect);
            st->watch.reset();
        }
        if (st->body_stream && !st->body_failed) {
            st->body_failed = true;
            st->body_stream->fail(http::body_error::disconnect);
        }
    }
}

void connection::on_timeout(http::protocol_env& env) {
    _deadline = 0;
    if (_session == nullptr || _failed) {
        return;
    }
    _env = &env;
    _now_s = env.now_s;
    env.counters.timeouts.add();
    if (_stall_since != 0) {
        env.counters.h2_window_stalls.add(); // the client keeps its window shut: give up
        fatal(NGHTTP2_NO_ERROR);
    } else if (_streams.empty()) {
        fatal(NGHTTP2_NO_ERROR); // idle: GOAWAY, then close
    }
    flush();
    _env = nullptr;
}

bool connection::begin_drain(uint32_t now_s, uint32_t grace_s) {
    (void)grace_s;
    _now_s = now_s;
    _draining = true;
    if (_session == nullptr || _failed) {
        return true;
    }
    if (!_closing) {
        // RFC 9113 §6.8: streams up to the last one we saw are answered; later ones the
        // client retries elsewhere.
        nghttp2_submit_goaway(_session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(_session),
                              NGHTTP2_NO_ERROR, nullptr, 0);
        _closing = true;
        flush();
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

namespace {

// RFC 7540 §3.2.1: HTTP2-Settings is base64url without padding. False on a bad character.
bool base64url_decode(std::string_view in, std::string& out) {
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '-') {
            v = 62;
        } else if (c == '_') {
            v = 63;
        } else if (c == '=') {
            break; // tolerated padding
        } else {
            return false;
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return true;
}

} // namespace

std::unique_ptr<http::protocol> starter::make_upgraded(uint32_t slot, uint32_t gen, const http::peer_address& peer,
                                                       std::string_view http2_settings, std::string_view head_bytes,
                                                       std::string_view body, http::protocol_env& env) {
    std::string payload;
    if (!base64url_decode(http2_settings, payload) || payload.size() % 6 != 0) {
        return nullptr; // not a SETTINGS payload: the request is answered as HTTP/1.1
    }
    bool head_request = head_bytes.size() >= 5 && head_bytes.substr(0, 5) == "HEAD ";
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
