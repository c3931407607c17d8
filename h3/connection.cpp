// HTTP/3 glue, the request side: the transport's stream events into the session, requests
// out of HEADERS and DATA frames into the dispatcher, request-body flow control, the
// stream and field-section caps, stream ends, and drain. Responses are in h3/response.cpp.
#include "h3/stream.hpp"

#include "http/parser.hpp"

#include <algorithm>

namespace ringbolt::h3 {

namespace {

// One scratch head per reactor thread (a request_head is 4 KB).
thread_local http::request_head tl_head;

/// What 0-RTT may carry (settings::early_methods): RFC 9110 §9.2.1's safe methods by
/// default, whose replay changes nothing.
bool early_method(const settings& s, std::string_view m) noexcept {
    return std::find(s.early_methods.begin(), s.early_methods.end(), m) != s.early_methods.end();
}

// RFC 9000 §2.1: the low two bits of a stream id.
bool client_bidi(int64_t id) noexcept {
    return (id & 3) == 0;
}
bool server_uni(int64_t id) noexcept {
    return (id & 3) == 3;
}

} // namespace

connection::connection(env_source& envs, const settings& cfg) : _envs(envs), _cfg(cfg) {}

connection::~connection() {
    release();
}

void connection::open(uint32_t slot, uint32_t gen, const http::peer_address& peer, uint32_t now_s,
                      const http::connection_limits& lim) {
    release();
    start_over(slot, gen, peer, lim);
    _close_code = 0;
    _spare.reserve(max_spare_streams); // (giving one back never allocates)
    _field_limit = _cfg.max_field_section_size != 0 ? _cfg.max_field_section_size : lim.parser.max_head_bytes;
    session_limits sl;
    sl.max_field_section_size = _field_limit;
    sl.qpack_max_dtable_capacity = _cfg.qpack_max_dtable_capacity;
    sl.qpack_blocked_streams = _cfg.qpack_blocked_streams;
    sl.enable_connect_protocol = _cfg.websocket;
    _resets.reset(_cfg.abuse.reset_burst, _cfg.abuse.reset_rate, now_s);
    _session = std::make_unique<session>(static_cast<session_events&>(*this), sl, _cfg.blocks);
    if (!_session->ok()) {
        _session.reset();
        _failed = true;
    }
}

bool connection::on_data(std::string_view data, http::protocol_env& env) {
    (void)data;
    (void)env;
    return false; // HTTP/3 bytes arrive per stream (on_stream_data), never as one byte stream
}

void connection::release() noexcept {
    _host = nullptr; // the transport is gone or going: nothing is credited or sent any more
    for (auto& [id, st] : _streams) {
        forget(*st);
    }
    _streams.clear();
    _refused.clear();
    _session.reset();
    _closing = true;
    _app_streams = 0;
}

void connection::each_stream(void (*fn)(http::stream_protocol&, http::stream_exchange&)) {
    for (auto& [id, st] : _streams) {
        fn(*this, *st);
    }
}

uint32_t connection::deadline() const noexcept {
    uint32_t at = 0;
    for (const auto& [id, st] : _streams) {
        uint32_t t = st->gone ? 0 : st->clock.next_check(_limits, _data_moved);
        at = t != 0 && (at == 0 || t < at) ? t : at;
        t = st->gone ? 0 : tunnel_deadline(*st); // a WebSocket's ping, ping timeout, close timeout, linger
        at = t != 0 && (at == 0 || t < at) ? t : at;
    }
    return at;
}

// A request whose head or body stalled (--header-timeout, --body-timeout, --min-body-rate)
// is refused (STOP_SENDING and RESET_STREAM H3_REQUEST_CANCELLED) and the app's body
// read fails (408), as HTTP/2 resets it; a body whose window the app holds shut waits
// for the app, its clock starts again from then. A response the client's window held for
// --write-timeout without moving ends the connection: a client that takes nothing holds
// it as long as it likes, an abuse (H3_EXCESSIVE_LOAD, as HTTP/2's ENHANCE_YOUR_CALM).
void connection::on_timeout(http::protocol_env& env) {
    if (_session == nullptr || _failed) {
        return;
    }
    http::protocol_env* saved = _env;
    _env = &env;
    for (auto& [id, sp] : _streams) {
        stream& st = *sp;
        if (st.gone || st.refused) {
            continue;
        }
        if (st.hosted() != nullptr && expire_tunnel(st)) {
            continue;
        }
        bool held = st.clock.body_since != 0 && st.body_stream && !st.body_failed &&
                    st.body_stream->unconsumed() >= _cfg.stream_window;
        if (held) {
            st.clock.body_credited(env.now_s);
        }
        http::stream_stall stall = st.clock.check(env.now_s, _limits, held, _data_moved);
        if (stall == http::stream_stall::none) {
            continue;
        }
        env.counters.timeouts.add();
        if (stall == http::stream_stall::send) {
            env.counters.h3_window_stalls.add();
            close(error::excessive_load, "a response waited for the client's flow control too long");
            break;
        }
        if (st.body_stream && !st.body_failed) {
            st.body_failed = true;
            st.body_stream->fail(http::body_error::timeout);
        }
        st.clock.head_since = 0;
        st.clock.body_ends();
        refuse(st, error::request_cancelled);
    }
    _env = saved;
}

bool connection::begin_drain(uint32_t now_s, uint32_t grace_s) {
    (void)now_s;
    (void)grace_s;
    begin_drain();
    if (_session != nullptr && !_failed) {
        for (auto& [id, st] : _streams) {
            if (!st->gone && !st->write_closed) {
                tunnel_drain(*st); // a WebSocket closes with 1001, and the client's answer ends the stream
            }
        }
    }
    return _failed || _session == nullptr || idle();
}

void connection::begin_drain() noexcept {
    if (_session == nullptr || _failed || _draining_sent) {
        _closing = true;
        return;
    }
    _closing = true;
    if (_host != nullptr) {
        // RFC 9114 §5.2: GOAWAY names the first request stream not processed; the
        // session refuses later ones itself (H3_REQUEST_REJECTED: the client may retry).
        _draining_sent = true;
        if (int rv = _session->shutdown(); rv != 0) {
            fail(rv);
            return;
        }
        _host->want_write();
    }
}

// ---- the transport's side ----

void connection::on_connected(quic::stream_host& host) noexcept {
    _host = &host;
    if (_session == nullptr || _failed) {
        close(error::internal_error, "HTTP/3 session not available");
        return;
    }
    int64_t control = host.open_uni_stream();
    int64_t encoder = host.open_uni_stream();
    int64_t decoder = host.open_uni_stream();
    if (control < 0 || encoder < 0 || decoder < 0) {
        // RFC 9114 §6.2: a client must let the server open its control stream, and QPACK's
        // two (RFC 9204 §4.2).
        close(error::stream_creation_error, "the client allows too few unidirectional streams");
        return;
    }
    if (int rv = _session->bind_streams(control, encoder, decoder); rv != 0) {
        fail(rv);
        return;
    }
    _session->allow_client_streams(host.bidi_streams_allowed());
    if (_closing && !_draining_sent) {
        begin_drain(); // the server began draining before the handshake completed
    }
    host.want_write();
}

void connection::on_stream_data(int64_t stream_id, std::span<const uint8_t> data, bool fin) noexcept {
    if (_session == nullptr || _failed || _host == nullptr) {
        return;
    }
    if (client_bidi(stream_id)) {
        if (_refused.contains(stream_id)) {
            _host->consumed(stream_id, data.size());
            return;
        }
        if (_streams.find(stream_id) == _streams.end()) {
            if (_streams.size() >= _cfg.max_concurrent_streams) [[unlikely]] {
                // More request streams than we serve at once (those whose app still works
                // after the client reset them included): refused before any of it is
                // decoded (RFC 9114 §4.1.1: H3_REQUEST_REJECTED, nothing was processed).
                env().counters.h3_refused_streams.add();
                _refused.insert(stream_id);
                _host->stop_sending(stream_id, error::request_rejected);
                _host->reset_stream(stream_id, error::request_rejected);
                _host->consumed(stream_id, data.size());
                return;
            }
            if (!_spare.empty()) {
                stream_table::node_type node = std::move(_spare.back());
                _spare.pop_back();
                node.key() = stream_id;
                node.mapped()->id = stream_id;
                node.mapped()->clock.head_begins(env().now_s);
                _streams.insert(std::move(node));
            } else {
                auto st = std::make_unique<stream>();
                st->id = stream_id;
                st->clock.head_begins(env().now_s);
                _streams.emplace(stream_id, std::move(st));
            }
            env().counters.h3_streams.add();
        }
    }
    read(stream_id, data, fin);
    if (_host != nullptr && !_failed) {
        _host->want_write(); // QPACK instructions, answers made during the read
    }
}

void connection::read(int64_t id, std::span<const uint8_t> data, bool fin) noexcept {
    // An encoded header block bigger than twice the field section limit is not decoded at
    // all (its fields would be refused anyway, and QPACK would hold a huge literal in
    // memory meanwhile): the stream is reset with H3_EXCESSIVE_LOAD.
    const uint64_t head_cap = 2 * _field_limit + 4096;
    size_t off = 0;
    do {
        size_t take = data.size() - off;
        stream* st = client_bidi(id) ? find(id) : nullptr;
        if (st != nullptr && st->refused) {
            _host->consumed(id, take); // its input is dropped
            return;
        }
        if (st != nullptr && !st->headers_done) {
            if (st->head_wire >= head_cap && take > 0) [[unlikely]] {
                env().counters.parse_errors.add();
                refuse(*st, error::excessive_load);
                if (_host != nullptr) {
                    _host->consumed(id, take);
                }
                return;
            }
            take = static_cast<size_t>(std::min<uint64_t>(take, head_cap - st->head_wire));
            st->head_wire += take;
        }
        bool last = off + take == data.size();
        int64_t rv = _session->read_stream(id, data.subspan(off, take), fin && last);
        if (rv < 0 && st != nullptr && session::is_message_error(rv)) [[unlikely]] {
            // RFC 9114 §4.1.2: a malformed request (its DATA disagrees with its
            // content-length) is a stream error; the session would end the connection.
            env().counters.parse_errors.add();
            refuse(*st, error::message_error);
            if (_host != nullptr) {
                _host->consumed(id, data.size() - off); // none of the rest is read
            }
            return;
        }
        if (rv < 0) [[unlikely]] {
            fail(rv); // a frame error on any stream, a closed critical stream, QPACK failure
            return;
        }
        if (rv > 0 && _host != nullptr) {
            _host->consumed(id, static_cast<uint64_t>(rv));
        }
        off += take;
        if (_session == nullptr || _failed) {
            return;
        }
    } while (off < data.size());
}

void connection::on_stream_reset(int64_t stream_id, uint64_t app_error) noexcept {
    if (_session == nullptr || _failed || _refused.contains(stream_id)) {
        return;
    }
    if ((stream_id & 3) == 2) {
        // One of the client's unidirectional streams ends here: its control or a QPACK
        // stream is critical (RFC 9114 §6.2.1, RFC 9204 §4.2), an unknown one is not.
        if (int rv = _session->close_stream(stream_id, app_error); rv < 0) {
            fail(rv);
        }
        return;
    }
    if (client_bidi(stream_id) && !count_cancel(find(stream_id))) [[unlikely]] {
        return;
    }
    if (int rv = _session->shutdown_read(stream_id); rv < 0) {
        fail(rv);
        return;
    }
    stream* st = find(stream_id);
    if (st == nullptr) {
        return;
    }
    // The client gave up on the request before its end (a reset after its FIN is not
    // possible): the app's body read fails, what the stream carried is credited back, and
    // our answer, if any, is dropped.
    if (!st->request_ended) {
        st->request_ended = true;
        if (st->body_stream && !st->body_failed) {
            st->body_failed = true;
            st->body_stream->fail(http::body_error::disconnect);
        }
        if (st->watch) {
            st->watch->fail(http::body_error::disconnect);
            st->watch.reset();
        }
        st->refused = true;
        abort_response(*st, error::request_cancelled);
    }
    if (http::hosted_session* h = st->hosted(); h != nullptr) {
        h->release(); // RFC 9220 §3: a reset is an abnormal close (1006 for the app unless a close frame came)
    }
    consume(*st);
}

void connection::on_stop_sending(int64_t stream_id, uint64_t app_error) noexcept {
    if (_session == nullptr || _failed) {
        return;
    }
    if (server_uni(stream_id)) {
        close(error::closed_critical_stream, "STOP_SENDING on a critical stream"); // RFC 9114 §6.2.1
        return;
    }
    stream* st = find(stream_id);
    if (st == nullptr) {
        return;
    }
    if (!http::over(st->phase) && !count_cancel(st)) [[unlikely]] {
        return;
    }
    if (st->watch) {
        st->watch->fail(http::body_error::disconnect);
        st->watch.reset();
    }
    abort_response(*st, app_error); // RFC 9000 §3.5: the reset carries the peer's code
    if (http::hosted_session* h = st->hosted(); h != nullptr) {
        h->release(); // a WebSocket that can no longer send is over: 1006 for the app
    }
}

// CVE-2023-44487 on HTTP/3: a client that opens request streams and cancels each at once
// (RESET_STREAM, or STOP_SENDING before its answer ended) makes us do the work of each
// without ever reading an answer. Each stream counts once, against the budget HTTP/2's
// RST_STREAMs use (http/stream_policy.hpp); past it the connection ends.
bool connection::count_cancel(stream* st) noexcept {
    if (st != nullptr) {
        if (st->cancel_counted) {
            return true;
        }
        st->cancel_counted = true;
    }
    if (_resets.take(env().now_s)) [[likely]] {
        return true;
    }
    env().counters.h3_floods.add();
    close(error::excessive_load, "too many request streams cancelled");
    return false;
}

void connection::on_stream_closed(int64_t stream_id, uint64_t app_error) noexcept {
    if (_session != nullptr && !_failed) {
        // (A stream nghttp3 never saw, or one refused before it did, is not found: 0. One
        // a PRIORITY_UPDATE made it keep before its HEADERS came is forgotten here too.)
        if (int rv = _session->close_stream(stream_id, app_error); rv < 0) {
            fail(rv); // a critical stream closed
            return;
        }
    }
    if (client_bidi(stream_id)) {
        stream_closed(stream_id);
    }
}

int connection::on_stream_close(int64_t id, uint64_t app_error) noexcept {
    // The session forgot a request stream: the transport's close (on_stream_closed), which
    // called it or comes with it, does what is ours to do.
    (void)id;
    (void)app_error;
    return 0;
}

void connection::stream_closed(int64_t id) noexcept {
    if (_refused.erase(id) > 0) {
        grant_stream();
        return;
    }
    auto it = _streams.find(id);
    if (it == _streams.end()) {
        grant_stream(); // one the client opened and reset before we saw anything of it
        return;
    }
    stream& st = *it->second;
    if (st.gone) {
        return;
    }
    forget(st);
    if (st.app_working) {
        st.gone = true; // given back when the app answers (work_done)
        return;
    }
    drop_stream(it);
    grant_stream();
}

void connection::work_done(int64_t id) noexcept {
    auto it = _streams.find(id);
    if (it == _streams.end() || !it->second->gone) {
        return;
    }
    drop_stream(it);
    grant_stream();
}

void connection::stream::reuse() noexcept {
    static_assert(sizeof(stream) == 672, "a field was added to h3's stream: reset it in reuse()");
    http::stream_exchange::reuse();
    id = 0;
    head_wire = 0;
    credited = 0;
    refused = false;
    write_closed = false;
    inflight.clear();
    inflight_bytes = 0;
    app_working = false;
    gone = false;
    cancel_counted = false;
}

void connection::drop_stream(stream_table::iterator it) noexcept {
    if (_spare.size() >= max_spare_streams) {
        _streams.erase(it);
        return;
    }
    stream_table::node_type node = _streams.extract(it);
    node.mapped()->reuse();
    _spare.push_back(std::move(node));
}

void connection::grant_stream() noexcept {
    if (_host == nullptr || _session == nullptr || _failed) {
        return;
    }
    _host->grant_bidi_stream();
    _session->allow_client_streams(_host->bidi_streams_allowed());
}

void connection::forget(stream& st) noexcept {
    if (http::hosted_session* h = st.hosted(); h != nullptr) {
        h->release(); // the app hears 1006 unless it heard a close
    }
    if (st.control && !http::over(st.phase)) {
        st.control->on_closed(); // the producer stops
    }
    st.control.reset();
    if (st.watch) {
        st.watch->fail(http::body_error::disconnect);
        st.watch.reset();
    }
    if (st.body_stream) {
        if (!st.body_failed) {
            st.body_stream->fail(http::body_error::disconnect);
        }
        st.body_stream.reset();
        st.body_failed = true;
    }
    if (st.from_app) {
        st.from_app = false;
        --_app_streams; // its later messages find no stream and are dropped
    }
    consume(st); // whatever the app never read is the client's again
}

void connection::on_acked(int64_t stream_id, uint64_t n) noexcept {
    if (_session == nullptr || _failed) {
        return;
    }
    if (int rv = _session->add_ack_offset(stream_id, n); rv < 0) {
        fail(rv);
    }
}

void connection::on_stream_writable(int64_t stream_id) noexcept {
    if (_session == nullptr || _failed) {
        return;
    }
    if (int rv = _session->unblock_stream(stream_id); rv < 0) {
        fail(rv);
        return;
    }
    if (_host != nullptr) {
        _host->want_write();
    }
}

void connection::next_output(quic::stream_output& out) noexcept {
    out.stream_id = -1;
    out.fin = false;
    out.count = 0;
    if (_session == nullptr || _failed) {
        return;
    }
    int64_t id = -1;
    bool fin = false;
    long n = _session->write_stream(id, fin, out.pieces, quic::stream_output::max_pieces);
    if (n < 0) [[unlikely]] {
        fail(n);
        return;
    }
    if (id < 0) {
        return;
    }
    out.stream_id = id;
    out.fin = fin;
    out.count = static_cast<size_t>(n);
    _offered = 0;
    for (size_t i = 0; i < out.count; ++i) {
        _offered += out.pieces[i].len;
    }
}

void connection::wrote(int64_t stream_id, size_t n) noexcept {
    if (_session == nullptr || _failed) {
        return;
    }
    if (stream* st = client_bidi(stream_id) ? find(stream_id) : nullptr; st != nullptr) {
        if (n > 0) {
            st->clock.send_moves(env().now_s, false);
            _data_moved = env().now_s;
        } else if (_offered > 0) {
            // No room for what was offered (a fin alone that went is n 0 too): the
            // connection's window, its congestion window or a full packet holds it.
            st->clock.send_waits(env().now_s, true);
        }
    }
    if (int rv = _session->add_write_offset(stream_id, n); rv < 0) {
        fail(rv);
    }
}

void connection::blocked(int64_t stream_id) noexcept {
    if (_session != nullptr && !_failed) {
        _session->block_stream(stream_id);
        if (stream* st = client_bidi(stream_id) ? find(stream_id) : nullptr; st != nullptr) {
            st->clock.send_waits(env().now_s, false); // the stream's own window holds it
        }
    }
}

void connection::fail(int64_t liberr) noexcept {
    close(session::error_code(liberr), session::error_text(liberr));
}

void connection::close(uint64_t code, std::string_view reason) noexcept {
    if (_failed) {
        return;
    }
    _failed = true;
    _closing = true;
    _close_code = code;
    if (code != error::no_error) {
        env().counters.h3_connection_errors.add();
        http::log_connection_error(_peer, "HTTP/3", error::name(code), code, reason);
    }
    if (_host != nullptr) {
        _host->close(code, reason);
    }
}

uint64_t connection::unacked_bytes() const noexcept {
    uint64_t n = 0;
    for (const auto& [id, st] : _streams) {
        n += st->inflight_bytes;
    }
    return n;
}

uint64_t connection::uncredited_bytes() const noexcept {
    uint64_t n = 0;
    for (const auto& [id, st] : _streams) {
        n += st->received - st->credited;
    }
    return n;
}

// ---- the request side (the session's events) ----

connection::stream* connection::find(int64_t id) noexcept {
    auto it = _streams.find(id);
    return it == _streams.end() || it->second->gone ? nullptr : it->second.get();
}

int connection::on_begin_headers(int64_t id) noexcept {
    stream* st = find(id);
    if (st == nullptr || st->headers_done) {
        return 0;
    }
    ++_requests_seen;
    return 0;
}

int connection::on_header(int64_t id, std::string_view name, std::string_view value, bool trailer) noexcept {
    stream* sp = find(id);
    if (sp == nullptr || trailer) {
        return 0; // request trailers are not passed on (as on HTTP/2)
    }
    stream& st = *sp;
    if (st.headers_done) {
        return 0;
    }
    // The session checked the pseudo-header rules (RFC 9114 §4.3.1: :method, :scheme and
    // :path, no connection-specific fields, no pseudo-header after a field) and resets a
    // malformed request with H3_MESSAGE_ERROR.
    st.take_field(name, value, _limits.parser.max_headers, _field_limit);
    return 0;
}

int connection::on_end_headers(int64_t id, bool fin, bool trailer) noexcept {
    stream* sp = find(id);
    if (sp == nullptr || trailer || sp->refused) {
        return 0;
    }
    stream& st = *sp;
    if (st.headers_done) {
        return 0;
    }
    st.headers_done = true;
    st.clock.head_ends(env().now_s, !fin);
    if (st.headers_over) {
        answer_error(st, 431, "request header fields too large");
        return 0;
    }
    if (_host->came_early(id) && !early_method(_cfg, st.method)) {
        // Early data may be a replay (RFC 9001 §9.2): only what repeats harmlessly runs
        // from it (a WebSocket's opening is a CONNECT: not). The client sends the request
        // again once the handshake completes (RFC 8470 §3: 425 Too Early).
        st.tunnel.reset();
        env().counters.h3_too_early.add();
        answer_error(st, 425, "too early: send the request again after the handshake");
        return 0;
    }
    if (st.method == "CONNECT") {
        begin_tunnel(st, _cfg.websocket);
        return 0;
    }
    if (fin) {
        st.request_ended = true;
        dispatch(st);
    } else if (st.content_length < 0 || static_cast<uint64_t>(st.content_length) > _limits.stream_body_above) {
        // A large body, or one of unknown length: a route that streams bodies gets the
        // request now and the body as it arrives (else the dispatcher says buffer).
        dispatch(st, true);
    }
    return 0;
}

int connection::on_body(int64_t id, std::span<const uint8_t> data) noexcept {
    stream* sp = find(id);
    if (sp == nullptr) {
        if (_host != nullptr) {
            _host->consumed(id, data.size());
        }
        return 0;
    }
    stream& st = *sp;
    std::string_view bytes(reinterpret_cast<const char*>(data.data()), data.size());
    st.received += data.size();
    if (st.tunnel) [[unlikely]] {
        if (!st.refused) {
            tunnel_data(st, bytes); // a WebSocket's frames
        }
        consume(st);
        return 0;
    }
    st.clock.body_moves(env().now_s, data.size());
    if (st.refused) {
        consume(st);
        return 0;
    }
    if (!st.take_data(bytes, _limits.max_body)) [[unlikely]] {
        answer_error(st, 413, "request body too large");
    }
    consume(st); // what the app took, what was dropped, or what is buffered whole (bounded by max_body)
    return 0;
}

int connection::on_end_stream(int64_t id) noexcept {
    stream* sp = find(id);
    if (sp == nullptr || sp->refused) {
        return 0;
    }
    stream& st = *sp;
    st.request_ended = true;
    st.clock.body_ends();
    if (st.tunnel) [[unlikely]] {
        tunnel_peer_end(st); // RFC 9220 §3: the stream's FIN ends the WebSocket
        return 0;
    }
    if (!st.end_body_stream() && !st.reported && st.headers_done) {
        dispatch(st);
    }
    return 0;
}

int connection::on_deferred_consume(int64_t id, size_t n) noexcept {
    if (_host != nullptr) {
        _host->consumed(id, n);
    }
    return 0;
}

int connection::on_want_stop_sending(int64_t id, uint64_t app_error) noexcept {
    if (_host != nullptr) {
        _host->stop_sending(id, app_error);
    }
    if (stream* st = find(id); st != nullptr) {
        // The session drops the stream's input (a malformed request, a stream after
        // GOAWAY): an app reading its body hears it was malformed.
        st->refused = true;
        st->request_ended = true;
        if (st->body_stream && !st->body_failed) {
            st->body_failed = true;
            st->body_stream->fail(http::body_error::malformed);
        }
        if (st->watch) {
            st->watch->fail(http::body_error::disconnect);
            st->watch.reset();
        }
    }
    return 0;
}

int connection::on_want_reset(int64_t id, uint64_t app_error) noexcept {
    stream* st = find(id);
    if (st == nullptr) {
        if (_host != nullptr) {
            _host->reset_stream(id, app_error);
        }
        return 0;
    }
    if (!st->write_closed) {
        st->write_closed = true;
        if (_host != nullptr) {
            _host->reset_stream(id, app_error);
        }
    }
    abort_response(*st, app_error);
    return 0;
}

int connection::on_peer_goaway(int64_t id) noexcept {
    (void)id;
    _closing = true; // the client goes: what it opened is answered, nothing new comes
    return 0;
}

void connection::consume(stream& st) noexcept {
    uint64_t upto = st.received;
    if (st.tunnel && !st.refused) {
        upto = tunnel_credit(st);
    } else if (st.body_stream && !st.body_failed) {
        uint64_t left = st.body_stream->unconsumed();
        upto = left < st.received ? st.received - left : 0;
    }
    if (upto > st.credited) {
        if (_host != nullptr) {
            _host->consumed(st.id, upto - st.credited);
        }
        st.credited = upto;
        st.clock.body_credited(env().now_s); // the client may send again: its clock counts from now
    }
}

void connection::refuse(stream& st, uint64_t code) noexcept {
    st.refused = true;
    st.request_ended = true;
    if (st.body_stream && !st.body_failed) {
        st.body_failed = true;
        st.body_stream->fail(code == error::message_error ? http::body_error::malformed : http::body_error::disconnect);
    }
    if (_host != nullptr) {
        _host->stop_sending(st.id, code);
    }
    if (_session != nullptr) {
        (void)_session->shutdown_read(st.id); // a request stream: never a critical one
    }
    abort_response(st, code);
    consume(st);
}

void connection::answer_error(stream& st, uint16_t status, std::string_view why, std::string_view content_type) {
    st.reported = true;
    st.ctx = http::request_context{};
    st.ctx.version_minor = http::version_http3;
    http::protocol_env& e = env();
    e.dispatch.on_refused({_peer, st.method, st.path, http::version_http3, status, why.size()});
    respond(static_cast<uint64_t>(st.id), st.ctx, status,
            content_type.empty() ? "Content-Type: text/plain; charset=utf-8\r\n" : content_type, why, e);
}

void connection::dispatch(stream& st, bool body_follows) {
    st.reported = true;
    http::protocol_env& e = env();
    http::report_result r = st.report(*this, static_cast<uint64_t>(st.id), http::version_http3, body_follows, _slot,
                                      _gen, _peer, _limits.parser, e, tl_head, st.tunnel != nullptr);
    if (r.to_app) {
        ++_app_streams;
        st.app_working = true;
    } else if (r.error != 0) [[unlikely]] {
        answer_error(st, r.error, r.why, r.content_type);
    }
    if (r.to_app && st.request_ended) {
        st.end_body_stream(); // the whole body came with the head
    }
}

} // namespace ringbolt::h3
