// Owns: the HTTP/3 client connection (see h3_connection.hpp): ngtcp2 0.12's client
// callbacks wired to nghttp3 0.8's client session, the packet loop over a connected UDP
// socket (recvmmsg in, sendmmsg out), request and tunnel streams and their timeouts.
#include "h3_connection.hpp"

#include "quic/client_start.hpp"
#include "quic/crypto_callbacks.hpp"

#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <nghttp3/version.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <ngtcp2/version.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <iterator>
#include <sys/socket.h>
#include <unistd.h>

static_assert(NGTCP2_VERSION_NUM >= 0x000c00 && NGTCP2_VERSION_NUM < 0x000d00,
              "h3_connection.cpp is written for ngtcp2 0.12.x (like quic/ngtcp2_api.*): port it");
static_assert(NGHTTP3_VERSION_NUM >= 0x000800 && NGHTTP3_VERSION_NUM < 0x000900,
              "h3_connection.cpp is written for nghttp3 0.8.x (like h3/nghttp3_api.*): port it");

namespace ringbolt_load {

namespace {

constexpr size_t batch_packets = 32;     // datagrams per sendmmsg / recvmmsg
constexpr size_t max_packet = 1452;      // the largest datagram we build (ngtcp2's default ceiling)
constexpr size_t recv_slot = 65536 / 16; // room per received datagram (larger ones are truncated: dropped)
constexpr size_t flush_packet_cap = 512; // a flush yields after this many, so other connections get a turn

void log_line(void*, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool is_ip_literal(const std::string& host) {
    in6_addr a6;
    in_addr a4;
    return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

} // namespace

struct h3_connection::conn_ref_holder {
    ngtcp2_crypto_conn_ref ref{};
};

h3_request h3_request::build(const std::string& method, const load_target& target,
                             const std::vector<std::string>& headers, const std::string& body, bool has_body) {
    h3_request r;
    r.fields.emplace_back(":method", method);
    r.fields.emplace_back(":scheme", "https");
    r.fields.emplace_back(":authority", target.host_header);
    r.fields.emplace_back(":path", target.path);
    bool has_length = false;
    for (const std::string& h : headers) {
        size_t colon = h.find(':');
        std::string name = h.substr(0, colon);
        for (char& c : name) {
            c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        size_t v = h.find_first_not_of(" \t", colon + 1);
        std::string value = v == std::string::npos ? "" : h.substr(v);
        if (name == "host") {
            r.fields[2].second = value; // HTTP/3 carries the host in :authority
            continue;
        }
        has_length = has_length || name == "content-length";
        r.fields.emplace_back(std::move(name), std::move(value));
    }
    if (has_body && !has_length) {
        r.fields.emplace_back("content-length", std::to_string(body.size()));
    }
    r.body = body;
    r.has_body = has_body && !body.empty();
    return r;
}

// ngtcp2's and nghttp3's callbacks, as static members of a friend so they reach the
// connection's state.
struct h3_callbacks {
    static h3_connection* of(void* ud) { return static_cast<h3_connection*>(ud); }

    // --- ngtcp2 (transport) ---
    static int handshake_completed(ngtcp2_conn*, void* ud) {
        return of(ud)->setup_http3() ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
    }
    static int recv_stream_data(ngtcp2_conn* q, uint32_t flags, int64_t id, uint64_t, const uint8_t* data, size_t len,
                                void* ud, void*) {
        h3_connection* c = of(ud);
        if (c->_h3 == nullptr) {
            return NGTCP2_ERR_CALLBACK_FAILURE; // streams before the handshake ended: not from a server
        }
        nghttp3_ssize n = nghttp3_conn_read_stream(c->_h3, id, data, len, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
        if (n < 0) {
            c->_error = std::string("HTTP/3 error from the server's bytes: ") + nghttp3_strerror(static_cast<int>(n));
            return NGTCP2_ERR_CALLBACK_FAILURE;
        }
        // what nghttp3 consumed (framing, headers) is credited here; DATA payload in recv_data
        ngtcp2_conn_extend_max_stream_offset(q, id, static_cast<uint64_t>(n));
        ngtcp2_conn_extend_max_offset(q, static_cast<uint64_t>(n));
        return 0;
    }
    static int acked_stream_data_offset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t len, void* ud, void*) {
        h3_connection* c = of(ud);
        return c->_h3 == nullptr || nghttp3_conn_add_ack_offset(c->_h3, id, len) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
    }
    static int stream_close(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t app_error, void* ud, void*) {
        h3_connection* c = of(ud);
        if ((flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) == 0) {
            app_error = NGHTTP3_H3_NO_ERROR;
        }
        if (c->_h3 != nullptr) {
            int rv = nghttp3_conn_close_stream(c->_h3, id, app_error);
            if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
                c->_error = std::string("HTTP/3 stream close: ") + nghttp3_strerror(rv);
                return NGTCP2_ERR_CALLBACK_FAILURE; // a critical stream closed
            }
        }
        return 0;
    }
    static int stream_reset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t, void* ud, void*) {
        h3_connection* c = of(ud);
        return c->_h3 == nullptr || nghttp3_conn_shutdown_stream_read(c->_h3, id) == 0 ? 0
                                                                                       : NGTCP2_ERR_CALLBACK_FAILURE;
    }
    static int stream_stop_sending(ngtcp2_conn* q, int64_t id, uint64_t app_error, void* ud, void* sud) {
        return stream_reset(q, id, 0, app_error, ud, sud); // either way nothing more is read
    }
    static int extend_max_stream_data(ngtcp2_conn*, int64_t id, uint64_t, void* ud, void*) {
        h3_connection* c = of(ud);
        return c->_h3 == nullptr || nghttp3_conn_unblock_stream(c->_h3, id) == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
    }

    // --- nghttp3 (HTTP/3) ---
    static int recv_header(nghttp3_conn*, int64_t id, int32_t token, nghttp3_rcbuf*, nghttp3_rcbuf* value, uint8_t,
                           void* ud, void*) {
        if (token != NGHTTP3_QPACK_TOKEN__STATUS) {
            return 0;
        }
        auto it = of(ud)->_requests.find(id);
        if (it == of(ud)->_requests.end()) {
            return 0; // cancelled by a timeout
        }
        nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
        int status = 0;
        for (size_t i = 0; i < v.len && i < 3; ++i) {
            status = v.base[i] >= '0' && v.base[i] <= '9' ? status * 10 + (v.base[i] - '0') : -1000;
        }
        it->second.status = v.len == 3 && status >= 100 ? status : 0; // RFC 9114 §4.3.2: three digits
        return 0;
    }
    static int end_headers(nghttp3_conn*, int64_t id, int, void* ud, void*) {
        h3_connection* c = of(ud);
        auto it = c->_requests.find(id);
        if (it != c->_requests.end() && it->second.tunnel != nullptr &&
            !it->second.tunnel->head(it->second.status, c->_now)) {
            c->end_tunnel(it, true, false, true);
        }
        return 0;
    }
    static int recv_data(nghttp3_conn*, int64_t id, const uint8_t* data, size_t len, void* ud, void*) {
        h3_connection* c = of(ud);
        ngtcp2_conn* q = c->_quic;
        ngtcp2_conn_extend_max_stream_offset(q, id, len);
        ngtcp2_conn_extend_max_offset(q, len);
        if (data == nullptr) {
            return 0; // deferred_consume: credit only
        }
        auto it = c->_requests.find(id);
        if (it != c->_requests.end() && it->second.tunnel != nullptr) {
            if (!it->second.tunnel->data(data, len, c->_now)) {
                c->end_tunnel(it, true, false, true);
            } else if (it->second.tunnel->wants_output(c->_now)) {
                nghttp3_conn_resume_stream(c->_h3, id);
            }
        }
        return 0;
    }
    static int deferred_consume(nghttp3_conn*, int64_t id, size_t len, void* ud, void*) {
        return recv_data(nullptr, id, nullptr, len, ud, nullptr);
    }
    static int acked_stream_data(nghttp3_conn*, int64_t, uint64_t len, void*, void* sud) {
        if (sud != nullptr) {
            static_cast<load_tunnel*>(sud)->acked(static_cast<size_t>(len));
        }
        return 0;
    }
    static int end_stream(nghttp3_conn*, int64_t id, void* ud, void*) {
        h3_connection* c = of(ud);
        auto it = c->_requests.find(id);
        if (it == c->_requests.end()) {
            return 0;
        }
        if (it->second.tunnel != nullptr) {
            c->end_tunnel(it, false, false, true); // the server ended its side: so do we
            return 0;
        }
        h3_connection::stream_state s = std::move(it->second);
        c->_requests.erase(it);
        c->_events.response_done(s.start_ns, s.status, c->_now);
        return 0;
    }
    static int h3_stream_close(nghttp3_conn*, int64_t id, uint64_t, void* ud, void*) {
        h3_connection* c = of(ud);
        auto it = c->_requests.find(id);
        if (it != c->_requests.end() && it->second.tunnel != nullptr) {
            c->end_tunnel(it, true, false, false);
        } else if (it != c->_requests.end()) { // closed (reset) before the response ended
            int64_t start = it->second.start_ns;
            c->_requests.erase(it);
            c->_events.request_failed(start, h3_failure::read, c->_now);
        }
        return 0;
    }
    static int reset_stream(nghttp3_conn*, int64_t id, uint64_t app_error, void* ud, void*) {
        return ngtcp2_conn_shutdown_stream_write(of(ud)->_quic, id, app_error) == 0 ? 0 : NGHTTP3_ERR_CALLBACK_FAILURE;
    }
    static int stop_sending(nghttp3_conn*, int64_t id, uint64_t app_error, void* ud, void*) {
        return ngtcp2_conn_shutdown_stream_read(of(ud)->_quic, id, app_error) == 0 ? 0 : NGHTTP3_ERR_CALLBACK_FAILURE;
    }
    static int goaway(nghttp3_conn*, int64_t, void* ud) {
        of(ud)->_goaway = true; // no new requests here; the thread replaces the connection when it is idle
        return 0;
    }
    static nghttp3_ssize read_body(nghttp3_conn*, int64_t, nghttp3_vec* vec, size_t, uint32_t* pflags, void* ud,
                                   void*) {
        const std::string& body = of(ud)->_request.body;
        // the body lives as long as the run, so nghttp3 may keep pointing at it until acked
        vec[0].base = reinterpret_cast<uint8_t*>(const_cast<char*>(body.data()));
        vec[0].len = body.size();
        *pflags |= NGHTTP3_DATA_FLAG_EOF;
        return 1;
    }
    static nghttp3_ssize read_tunnel(nghttp3_conn*, int64_t, nghttp3_vec* vec, size_t veccnt, uint32_t*, void* ud,
                                     void* sud) {
        if (sud == nullptr) {
            return NGHTTP3_ERR_WOULDBLOCK; // the tunnel is over; the stream is being cancelled
        }
        constexpr size_t max_chunks = 16;
        const uint8_t* p[max_chunks];
        size_t len[max_chunks];
        size_t n = static_cast<load_tunnel*>(sud)->next_output(p, len, std::min(veccnt, max_chunks), of(ud)->_now);
        if (n == 0) {
            return NGHTTP3_ERR_WOULDBLOCK; // resumed when the tunnel has bytes again
        }
        for (size_t i = 0; i < n; ++i) {
            vec[i] = nghttp3_vec{const_cast<uint8_t*>(p[i]), len[i]};
        }
        return static_cast<nghttp3_ssize>(n);
    }
};

void h3_connection::end_tunnel(std::unordered_map<int64_t, stream_state>::iterator it, bool reset, bool timed_out,
                               bool cancel) {
    int64_t id = it->first;
    std::unique_ptr<load_tunnel> t = std::move(it->second.tunnel);
    _requests.erase(it);
    if (_h3 != nullptr) {
        nghttp3_conn_set_stream_user_data(_h3, id, nullptr);
    }
    if (cancel && _quic != nullptr) {
        // RFC 9114 §4.1.1: a client abandoning a request resets it with H3_REQUEST_CANCELLED
        ngtcp2_conn_shutdown_stream(_quic, id, reset ? NGHTTP3_H3_REQUEST_CANCELLED : NGHTTP3_H3_NO_ERROR);
        if (_h3 != nullptr) {
            nghttp3_conn_shutdown_stream_write(_h3, id);
        }
    }
    t->ended(reset, timed_out, _now);
    _ended_tunnels.push_back(std::move(t));
}

h3_connection::h3_connection(const h3_request& request, const load_target& target, uint32_t streams,
                             gnutls_certificate_credentials_t cred, h3_request_events& events)
    : _request(request), _target(target), _streams(streams), _cred(cred), _events(events),
      _ref(std::make_unique<conn_ref_holder>()) {
    _out.resize(batch_packets * max_packet);
    _in.resize(batch_packets * recv_slot);
}

h3_connection::~h3_connection() {
    release();
}

void h3_connection::release() {
    if (_h3 != nullptr) {
        nghttp3_conn_del(_h3);
        _h3 = nullptr;
    }
    if (_quic != nullptr) {
        ngtcp2_conn_del(_quic);
        _quic = nullptr;
    }
    if (_tls != nullptr) {
        gnutls_deinit(_tls);
        _tls = nullptr;
    }
    _requests.clear();
    _ended_tunnels.clear();
    close_socket();
}

bool h3_connection::open(int64_t now) {
    release();
    if (!open_socket(_target, SOCK_DGRAM | SOCK_NONBLOCK, now)) {
        return false;
    }
    int buf = 4 << 20; // a burst of a few hundred datagrams must not overflow the receive queue
    setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(_fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (connect(_fd, reinterpret_cast<const sockaddr*>(&_target.addr), _target.addr_len) != 0) {
        _error = std::string("connect: ") + strerror(errno);
        release();
        return false;
    }
    _local_len = sizeof _local;
    getsockname(_fd, reinterpret_cast<sockaddr*>(&_local), &_local_len);

    if (gnutls_init(&_tls, GNUTLS_CLIENT | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA) != 0 ||
        gnutls_priority_set_direct(_tls,
                                   "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"
                                   "+AES-256-GCM:+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1",
                                   nullptr) != 0 ||
        ngtcp2_crypto_gnutls_configure_client_session(_tls) != 0 ||
        gnutls_credentials_set(_tls, GNUTLS_CRD_CERTIFICATE, _cred) != 0) {
        _error = "GnuTLS client session set-up failed";
        release();
        return false;
    }
    // No gnutls_session_set_verify_cert: the certificate is not checked (self-signed test certs).
    gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>("h3")), 2};
    gnutls_alpn_set_protocols(_tls, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    if (!is_ip_literal(_target.host)) { // RFC 6066 §3: no IP literals in SNI
        gnutls_server_name_set(_tls, GNUTLS_NAME_DNS, _target.host.data(), _target.host.size());
    }
    _ref->ref.get_conn = [](ngtcp2_crypto_conn_ref* r) { return static_cast<h3_connection*>(r->user_data)->_quic; };
    _ref->ref.user_data = this;
    gnutls_session_set_ptr(_tls, &_ref->ref);

    ngtcp2_callbacks cb{};
    ringbolt::quic::set_client_crypto_callbacks(cb);
    ringbolt::quic::set_random_callbacks(cb);
    cb.handshake_completed = h3_callbacks::handshake_completed;
    cb.recv_stream_data = h3_callbacks::recv_stream_data;
    cb.acked_stream_data_offset = h3_callbacks::acked_stream_data_offset;
    cb.stream_close = h3_callbacks::stream_close;
    cb.stream_reset = h3_callbacks::stream_reset;
    cb.stream_stop_sending = h3_callbacks::stream_stop_sending;
    cb.extend_max_stream_data = h3_callbacks::extend_max_stream_data;

    ringbolt::quic::client_start start = ringbolt::quic::client_start_at(static_cast<ngtcp2_tstamp>(now));
    if (getenv("RINGBOLT_H3_LOAD_LOG") != nullptr) { // ngtcp2's own packet log on stderr, to debug a handshake
        start.settings.log_printf = log_line;
    }
    start.params.initial_max_streams_uni = 8; // the server's control and QPACK streams (and a spare)
    start.params.max_idle_timeout = 30 * NGTCP2_SECONDS;
    ngtcp2_path path{
        {reinterpret_cast<ngtcp2_sockaddr*>(&_local), _local_len},
        {reinterpret_cast<ngtcp2_sockaddr*>(const_cast<sockaddr_storage*>(&_target.addr)), _target.addr_len},
        nullptr};
    int rv = ngtcp2_conn_client_new(&_quic, &start.dcid, &start.scid, &path, NGTCP2_PROTO_VER_V1, &cb, &start.settings,
                                    &start.params, nullptr, this);
    if (rv != 0) {
        _quic = nullptr;
        _error = std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv);
        release();
        return false;
    }
    ngtcp2_conn_set_tls_native_handle(_quic, _tls);
    _phase = phase::handshaking;
    return true;
}

bool h3_connection::setup_http3() {
    nghttp3_callbacks cb{};
    cb.stream_close = h3_callbacks::h3_stream_close;
    cb.recv_data = h3_callbacks::recv_data;
    cb.deferred_consume = h3_callbacks::deferred_consume;
    cb.recv_header = h3_callbacks::recv_header;
    cb.end_headers = h3_callbacks::end_headers;
    cb.acked_stream_data = h3_callbacks::acked_stream_data;
    cb.end_stream = h3_callbacks::end_stream;
    cb.reset_stream = h3_callbacks::reset_stream;
    cb.stop_sending = h3_callbacks::stop_sending;
    cb.shutdown = h3_callbacks::goaway;
    nghttp3_settings s;
    nghttp3_settings_default(&s);
    s.qpack_max_dtable_capacity = 4096;
    s.qpack_blocked_streams = 100;
    if (nghttp3_conn_client_new(&_h3, &cb, &s, nullptr, this) != 0) {
        _h3 = nullptr;
        _error = "nghttp3_conn_client_new failed";
        return false;
    }
    int64_t control = -1;
    int64_t enc = -1;
    int64_t dec = -1;
    if (ngtcp2_conn_open_uni_stream(_quic, &control, nullptr) != 0 ||
        ngtcp2_conn_open_uni_stream(_quic, &enc, nullptr) != 0 ||
        ngtcp2_conn_open_uni_stream(_quic, &dec, nullptr) != 0 || nghttp3_conn_bind_control_stream(_h3, control) != 0 ||
        nghttp3_conn_bind_qpack_streams(_h3, enc, dec) != 0) {
        _error = "the server allows too few unidirectional streams for HTTP/3";
        return false;
    }
    gnutls_datum_t proto{};
    if (gnutls_alpn_get_selected_protocol(_tls, &proto) != 0 || proto.size != 2 || memcmp(proto.data, "h3", 2) != 0) {
        _error = "the server did not select ALPN h3";
        return false;
    }
    _phase = phase::ready;
    return true;
}

bool h3_connection::start_request(int64_t due, int64_t now) {
    int64_t id = -1;
    if (ngtcp2_conn_open_bidi_stream(_quic, &id, nullptr) != 0) {
        return false;
    }
    nghttp3_nv nva[h3_request::max_fields];
    size_t n = 0;
    for (const auto& [name, value] : _request.fields) {
        nva[n++] = nghttp3_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                              reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                              NGHTTP3_NV_FLAG_NO_COPY_NAME | NGHTTP3_NV_FLAG_NO_COPY_VALUE};
    }
    if (!_request.paths.empty()) {
        const std::string& path = _request.paths[_next_path];
        nva[h3_request::path_field].value = reinterpret_cast<uint8_t*>(const_cast<char*>(path.data()));
        nva[h3_request::path_field].valuelen = path.size();
    }
    std::unique_ptr<load_tunnel> tunnel = _events.open_tunnel(now);
    nghttp3_data_reader dr{tunnel != nullptr ? h3_callbacks::read_tunnel : h3_callbacks::read_body};
    int rv = nghttp3_conn_submit_request(_h3, id, nva, n, tunnel != nullptr || _request.has_body ? &dr : nullptr,
                                         tunnel.get());
    if (rv != 0) {
        _error = std::string("nghttp3_conn_submit_request: ") + nghttp3_strerror(rv);
        return false;
    }
    if (!_request.paths.empty()) {
        _next_path = (_next_path + 1) % _request.paths.size();
    }
    _requests.emplace(id, stream_state{due, now, 0, std::move(tunnel)});
    return true;
}

bool h3_connection::flush(int64_t now) {
    _now = now;
    if (_phase == phase::closed) {
        return false;
    }
    if (_interval == 0) {
        while (may_open_stream() && _events.claim_request(now)) {
            if (!start_request(now, now)) {
                _events.request_failed(now, h3_failure::read, now); // the claim is settled
                return false;
            }
        }
    } else {
        // due requests, oldest first; those that found no free stream are a backlog, each
        // charged its whole wait (no coordinated omission)
        while (_next_due <= now && may_open_stream() && _events.claim_request(_next_due)) {
            int64_t due = _next_due;
            _next_due += _interval;
            if (!start_request(due, now)) {
                _events.request_failed(due, h3_failure::read, now);
                return false;
            }
        }
    }
    for (auto& [id, s] : _requests) {
        if (s.tunnel != nullptr && s.tunnel->wants_output(now)) {
            nghttp3_conn_resume_stream(_h3, id);
        }
    }
    return write_packets(now);
}

bool h3_connection::may_open_stream() const noexcept {
    return _phase == phase::ready && !_goaway && _requests.size() < _streams &&
           ngtcp2_conn_get_streams_bidi_left(_quic) > 0;
}

int64_t h3_connection::next_due() const noexcept {
    return _interval > 0 && may_open_stream() ? _next_due : INT64_MAX;
}

bool h3_connection::send_batch(size_t count) {
    mmsghdr msgs[batch_packets];
    iovec iov[batch_packets];
    size_t sent = 0;
    while (sent < count) {
        size_t k = 0;
        for (size_t i = sent; i < count; ++i, ++k) {
            iov[k] = iovec{_out.data() + i * max_packet, _pkt_len[i]};
            msgs[k] = mmsghdr{};
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
        }
        int n = sendmmsg(_fd, msgs, static_cast<unsigned>(k), 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == ENOBUFS) {
                return true; // dropped: QUIC's loss recovery sends them again
            }
            _error = std::string("send: ") + strerror(errno);
            return false;
        }
        sent += static_cast<size_t>(n);
    }
    return true;
}

bool h3_connection::write_packets(int64_t now) {
    size_t max = std::min(max_packet, ngtcp2_conn_get_path_max_tx_udp_payload_size(_quic));
    size_t queued = 0;
    size_t total = 0;
    _more = false;
    for (;;) {
        int64_t id = -1;
        int fin = 0;
        nghttp3_vec vec[16];
        nghttp3_ssize count = 0;
        if (_h3 != nullptr && ngtcp2_conn_get_max_data_left(_quic) > 0) {
            count = nghttp3_conn_writev_stream(_h3, &id, &fin, vec, 16);
            if (count < 0) {
                _error = std::string("nghttp3_conn_writev_stream: ") + nghttp3_strerror(static_cast<int>(count));
                return false;
            }
        }
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin != 0 ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
        ngtcp2_ssize taken = -1;
        ngtcp2_pkt_info pi{};
        ngtcp2_ssize n = ngtcp2_conn_writev_stream(_quic, nullptr, &pi, _out.data() + queued * max_packet, max, &taken,
                                                   flags, id, reinterpret_cast<const ngtcp2_vec*>(vec),
                                                   static_cast<size_t>(count), static_cast<ngtcp2_tstamp>(now));
        if (n < 0) {
            if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
                nghttp3_conn_block_stream(_h3, id);
                continue;
            }
            if (n == NGTCP2_ERR_STREAM_SHUT_WR) {
                nghttp3_conn_shutdown_stream_write(_h3, id);
                continue;
            }
            if (n == NGTCP2_ERR_WRITE_MORE) {
                nghttp3_conn_add_write_offset(_h3, id, static_cast<size_t>(taken));
                continue;
            }
            _error = std::string("ngtcp2_conn_writev_stream: ") + ngtcp2_strerror(static_cast<int>(n));
            return false;
        }
        if (taken >= 0 && nghttp3_conn_add_write_offset(_h3, id, static_cast<size_t>(taken)) != 0) {
            _error = "nghttp3_conn_add_write_offset failed";
            return false;
        }
        if (n == 0) {
            break;
        }
        _pkt_len[queued++] = static_cast<size_t>(n);
        ++total;
        if (queued == batch_packets) {
            if (!send_batch(queued)) {
                return false;
            }
            queued = 0;
            if (total >= flush_packet_cap) {
                _more = true; // the rest after the other connections' turn
                break;
            }
        }
    }
    if (queued > 0 && !send_batch(queued)) {
        return false;
    }
    ngtcp2_conn_update_pkt_tx_time(_quic, static_cast<ngtcp2_tstamp>(now));
    return true;
}

bool h3_connection::on_readable(int64_t now) {
    _now = now;
    if (_phase == phase::closed) {
        return false;
    }
    ngtcp2_path path{
        {reinterpret_cast<ngtcp2_sockaddr*>(&_local), _local_len},
        {reinterpret_cast<ngtcp2_sockaddr*>(const_cast<sockaddr_storage*>(&_target.addr)), _target.addr_len},
        nullptr};
    mmsghdr msgs[batch_packets];
    iovec iov[batch_packets];
    for (int rounds = 0; rounds < 8; ++rounds) { // then yield: level-triggered epoll calls again
        for (size_t i = 0; i < batch_packets; ++i) {
            iov[i] = iovec{_in.data() + i * recv_slot, recv_slot};
            msgs[i] = mmsghdr{};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(_fd, msgs, batch_packets, MSG_DONTWAIT, nullptr);
        if (n < 0) {
            recv_status st = after_recv_error();
            if (st == recv_status::again) {
                continue;
            }
            return st == recv_status::drained;
        }
        for (int i = 0; i < n; ++i) {
            if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
                continue; // larger than any datagram QUIC sends us here
            }
            size_t len = msgs[i].msg_len;
            _events.received(len, now);
            ngtcp2_pkt_info pi{};
            int rv = ngtcp2_conn_read_pkt(_quic, &path, &pi, _in.data() + i * recv_slot, len,
                                          static_cast<ngtcp2_tstamp>(now));
            if (rv != 0) {
                if (_error.empty()) {
                    if (rv == NGTCP2_ERR_DRAINING) {
                        ngtcp2_connection_close_error e;
                        ngtcp2_conn_get_connection_close_error(_quic, &e);
                        _error = "the server closed the connection (error " + std::to_string(e.error_code) + ")";
                    } else {
                        _error = std::string("ngtcp2_conn_read_pkt: ") + ngtcp2_strerror(rv);
                    }
                }
                return false;
            }
        }
        if (static_cast<size_t>(n) < batch_packets) {
            return true;
        }
    }
    return true;
}

bool h3_connection::on_timer(int64_t now) {
    _now = now;
    if (_phase == phase::closed) {
        return false;
    }
    int rv = ngtcp2_conn_handle_expiry(_quic, static_cast<ngtcp2_tstamp>(now));
    if (rv != 0) {
        _error = rv == NGTCP2_ERR_IDLE_CLOSE ? "idle timeout" : std::string("timer: ") + ngtcp2_strerror(rv);
        return false;
    }
    return true;
}

int64_t h3_connection::expiry() const noexcept {
    if (_quic == nullptr) {
        return INT64_MAX;
    }
    ngtcp2_tstamp t = ngtcp2_conn_get_expiry(_quic);
    return t >= static_cast<ngtcp2_tstamp>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(t);
}

void h3_connection::expire_requests(int64_t now, int64_t timeout_ns) {
    _now = now;
    for (auto it = _requests.begin(); it != _requests.end();) {
        if (it->second.tunnel != nullptr) {
            auto next = std::next(it);
            if (now >= it->second.tunnel->deadline()) {
                end_tunnel(it, true, true, true);
            }
            it = next;
            continue;
        }
        if (now - it->second.sent_ns < timeout_ns) {
            ++it;
            continue;
        }
        int64_t id = it->first;
        int64_t start = it->second.start_ns;
        it = _requests.erase(it);
        // RFC 9114 §4.1.1: a client abandoning a request resets it with H3_REQUEST_CANCELLED
        ngtcp2_conn_shutdown_stream(_quic, id, NGHTTP3_H3_REQUEST_CANCELLED);
        if (_h3 != nullptr) {
            nghttp3_conn_shutdown_stream_write(_h3, id);
        }
        _events.request_failed(start, h3_failure::timeout, now);
    }
}

void h3_connection::abandon(h3_failure why, int64_t now) {
    std::unordered_map<int64_t, stream_state> lost;
    lost.swap(_requests);
    std::vector<std::unique_ptr<load_tunnel>> ended;
    ended.swap(_ended_tunnels);
    release();
    for (auto& [id, s] : lost) {
        if (s.tunnel != nullptr) {
            s.tunnel->ended(true, false, now);
        } else {
            _events.request_failed(s.start_ns, why, now);
        }
    }
}

uint64_t h3_connection::close_gracefully(int64_t now, int64_t since, int64_t until) {
    uint64_t unfinished = 0;
    for (const auto& [id, s] : _requests) {
        if (s.tunnel != nullptr) {
            s.tunnel->run_over(); // counts its own unfinished messages
        } else {
            unfinished += s.start_ns >= since ? 1 : 0;
        }
    }
    int64_t last = std::min(now, until - 1);
    if (_interval > 0 && _next_due <= last) { // the backlog: due k = kmin..kmax, never sent
        int64_t kmax = (last - _next_due) / _interval;
        int64_t kmin = since <= _next_due ? 0 : (since - _next_due + _interval - 1) / _interval;
        unfinished += kmax >= kmin ? static_cast<uint64_t>(kmax - kmin + 1) : 0;
    }
    if (_quic != nullptr && !ngtcp2_conn_is_in_closing_period(_quic) && !ngtcp2_conn_is_in_draining_period(_quic)) {
        if (_phase == phase::ready) {
            write_packets(now); // what is owed first: the resets of requests that just timed out
        }
        ngtcp2_connection_close_error e;
        ngtcp2_connection_close_error_set_application_error(&e, NGHTTP3_H3_NO_ERROR, nullptr, 0);
        ngtcp2_pkt_info pi{};
        ngtcp2_ssize n = ngtcp2_conn_write_connection_close(_quic, nullptr, &pi, _out.data(), max_packet, &e,
                                                            static_cast<ngtcp2_tstamp>(now));
        if (n > 0) {
            _pkt_len[0] = static_cast<size_t>(n);
            send_batch(1);
        }
    }
    release();
    return unfinished;
}

} // namespace ringbolt_load
