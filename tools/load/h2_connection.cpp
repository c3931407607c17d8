// Owns: the HTTP/2 client connection of ringbolt-ws-load --http2 (see h2_connection.hpp):
// nghttp2's client callbacks, the socket's reads and writes, tunnel streams and their
// deadlines.
#include "h2_connection.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iterator>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace ringbolt_load {

namespace {

constexpr size_t read_size = 64 * 1024;
constexpr size_t write_batch = 256 * 1024;  // nghttp2's output gathered before one send
constexpr uint32_t stream_window = 6 << 20; // Chromium's HTTP/2 windows (receive side)
constexpr int32_t connection_window = 15 << 20;

} // namespace

// nghttp2's callbacks, as static members of a friend so they reach the connection's state.
struct h2_callbacks {
    static h2_connection* of(void* ud) { return static_cast<h2_connection*>(ud); }

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t, void* ud) {
        if (frame->hd.type != NGHTTP2_HEADERS || namelen != 7 || memcmp(name, ":status", 7) != 0) {
            return 0;
        }
        auto it = of(ud)->_streams_open.find(frame->hd.stream_id);
        if (it == of(ud)->_streams_open.end()) {
            return 0;
        }
        int status = 0;
        for (size_t i = 0; i < valuelen; ++i) {
            status = status * 10 + (value[i] - '0'); // nghttp2 checked it is three digits
        }
        it->second.status = status;
        return 0;
    }
    static int on_frame_recv(nghttp2_session* s, const nghttp2_frame* frame, void* ud) {
        h2_connection* c = of(ud);
        switch (frame->hd.type) {
        case NGHTTP2_SETTINGS:
            if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0 && c->_phase == h2_connection::phase::handshaking) {
                if (nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) != 1) {
                    c->_error = "the server does not allow extended CONNECT (no SETTINGS_ENABLE_CONNECT_PROTOCOL, "
                                "RFC 8441 §3)";
                    return NGHTTP2_ERR_CALLBACK_FAILURE;
                }
                c->_phase = h2_connection::phase::ready;
            }
            return 0;
        case NGHTTP2_GOAWAY:
            c->_goaway = true;
            return 0;
        case NGHTTP2_HEADERS:
        case NGHTTP2_DATA: {
            auto it = c->_streams_open.find(frame->hd.stream_id);
            if (it == c->_streams_open.end()) {
                return 0;
            }
            if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE &&
                !it->second.tunnel->head(it->second.status, c->_now)) {
                c->end_stream(frame->hd.stream_id, true, false, true);
            } else if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
                c->end_stream(frame->hd.stream_id, false, false, true); // the server ended its side: so do we
            }
            return 0;
        }
        default:
            return 0;
        }
    }
    static int on_data_chunk(nghttp2_session* s, uint8_t, int32_t id, const uint8_t* data, size_t len, void* ud) {
        h2_connection* c = of(ud);
        auto it = c->_streams_open.find(id);
        if (it == c->_streams_open.end()) {
            return 0;
        }
        if (!it->second.tunnel->data(data, len, c->_now)) {
            c->end_stream(id, true, false, true);
        } else if (it->second.tunnel->wants_output(c->_now)) {
            nghttp2_session_resume_data(s, id);
        }
        return 0;
    }
    static int on_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* ud) {
        h2_connection* c = of(ud);
        if (c->_streams_open.count(id) != 0) {
            c->end_stream(id, error_code != NGHTTP2_NO_ERROR, false, false);
        }
        return 0;
    }
    // DATA for a tunnel's stream: its chunks copied in (so each is released at once).
    static ssize_t read_tunnel(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t*,
                               nghttp2_data_source*, void* ud) {
        h2_connection* c = of(ud);
        auto it = c->_streams_open.find(id);
        if (it == c->_streams_open.end()) {
            return NGHTTP2_ERR_DEFERRED; // being cancelled
        }
        h2_connection::stream_state& st = it->second;
        size_t copied = 0;
        while (copied < length) {
            if (st.rest_len == 0 && st.tunnel->next_output(&st.rest, &st.rest_len, 1, c->_now) == 0) {
                break;
            }
            if (st.rest_whole == 0) {
                st.rest_whole = st.rest_len;
            }
            size_t n = std::min(st.rest_len, length - copied);
            memcpy(buf + copied, st.rest, n);
            copied += n;
            st.rest += n;
            st.rest_len -= n;
            if (st.rest_len == 0) {
                st.tunnel->acked(st.rest_whole);
                st.rest_whole = 0;
            }
        }
        return copied > 0 ? static_cast<ssize_t>(copied) : ssize_t{NGHTTP2_ERR_DEFERRED}; // resumed when there is more
    }
};

h2_connection::h2_connection(const h3_request& request, const load_target& target, uint32_t streams,
                             h3_request_events& events)
    : _request(request), _target(target), _streams(streams), _events(events) {
    _rbuf.resize(read_size);
}

h2_connection::~h2_connection() {
    release();
}

void h2_connection::release() {
    nghttp2_session_del(_session); // (nghttp2 takes a null session)
    _session = nullptr;
    _streams_open.clear();
    _wbuf.clear();
    close_socket();
}

bool h2_connection::open(int64_t now) {
    release();
    if (!open_socket(_target, SOCK_STREAM, now)) {
        return false;
    }
    int one = 1;
    setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{2, 0}; // the connect itself blocks, briefly: the tool loads servers on this machine
    setsockopt(_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(_fd, reinterpret_cast<const sockaddr*>(&_target.addr), _target.addr_len) != 0) {
        _error = std::string("connect: ") + strerror(errno);
        release();
        return false;
    }
    fcntl(_fd, F_SETFL, fcntl(_fd, F_GETFL) | O_NONBLOCK);

    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_callbacks::on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_callbacks::on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_callbacks::on_stream_close);
    int rv = nghttp2_session_client_new(&_session, cb, this);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        _session = nullptr;
        _error = std::string("nghttp2_session_client_new: ") + nghttp2_strerror(rv);
        release();
        return false;
    }
    // the client preface's SETTINGS and windows as Chromium sends them (the browser that
    // opens WebSockets on HTTP/2 by default): 6 MiB per stream, 15 MiB for the
    // connection, no push
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                         {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window}};
    nghttp2_submit_settings(_session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(_session, NGHTTP2_FLAG_NONE, 0, connection_window);
    _phase = phase::handshaking;
    return true;
}

bool h2_connection::start_stream(int64_t now) {
    std::unique_ptr<load_tunnel> tunnel = _events.open_tunnel(now);
    if (tunnel == nullptr) {
        _error = "ringbolt-ws-load --http2 carries tunnels only";
        return false;
    }
    nghttp2_nv nva[h3_request::max_fields];
    size_t n = 0;
    for (const auto& [name, value] : _request.fields) {
        nva[n++] = nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                              reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                              NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    }
    nghttp2_data_provider dp{};
    dp.read_callback = h2_callbacks::read_tunnel;
    int32_t id = nghttp2_submit_request(_session, nullptr, nva, n, &dp, nullptr);
    if (id < 0) {
        _error = std::string("nghttp2_submit_request: ") + nghttp2_strerror(id);
        return false;
    }
    _streams_open.emplace(id, stream_state{std::move(tunnel)});
    return true;
}

void h2_connection::end_stream(int32_t id, bool reset, bool timed_out, bool cancel) {
    auto it = _streams_open.find(id);
    if (it == _streams_open.end()) {
        return;
    }
    std::unique_ptr<load_tunnel> t = std::move(it->second.tunnel);
    _streams_open.erase(it);
    if (cancel && _session != nullptr) {
        nghttp2_submit_rst_stream(_session, NGHTTP2_FLAG_NONE, id, reset ? NGHTTP2_CANCEL : NGHTTP2_NO_ERROR);
    }
    t->ended(reset, timed_out, _now);
}

bool h2_connection::flush(int64_t now) {
    _now = now;
    if (_phase == phase::closed) {
        return false;
    }
    if (_phase == phase::ready) {
        while (!_goaway && _streams_open.size() < _streams &&
               nghttp2_session_get_remote_settings(_session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) >
                   _streams_open.size() &&
               _events.claim_request(now)) {
            if (!start_stream(now)) {
                return false;
            }
        }
        for (auto& [id, s] : _streams_open) {
            if (s.tunnel->wants_output(now)) {
                nghttp2_session_resume_data(_session, id);
            }
        }
    }
    return write_out();
}

bool h2_connection::write_out() {
    for (;;) {
        while (_wbuf.size() < write_batch) {
            const uint8_t* data = nullptr;
            ssize_t n = nghttp2_session_mem_send(_session, &data);
            if (n < 0) {
                _error = std::string("nghttp2_session_mem_send: ") + nghttp2_strerror(static_cast<int>(n));
                return false;
            }
            if (n == 0) {
                break;
            }
            _wbuf.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
        }
        if (_wbuf.empty()) {
            return true;
        }
        ssize_t w = send(_fd, _wbuf.data(), _wbuf.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                return true; // the rest when the socket is writable
            }
            _error = std::string("send: ") + strerror(errno);
            return false;
        }
        _wbuf.erase(0, static_cast<size_t>(w));
        if (!_wbuf.empty()) {
            return true;
        }
    }
}

bool h2_connection::on_readable(int64_t now) {
    _now = now;
    if (_phase == phase::closed) {
        return false;
    }
    for (int rounds = 0; rounds < 8; ++rounds) { // then yield: level-triggered epoll calls again
        ssize_t n = recv(_fd, _rbuf.data(), _rbuf.size(), MSG_DONTWAIT);
        if (n < 0) {
            recv_status st = after_recv_error();
            if (st == recv_status::again) {
                continue;
            }
            return st == recv_status::drained;
        }
        if (n == 0) {
            _error = "the server closed the connection";
            return false;
        }
        _events.received(static_cast<size_t>(n), now);
        ssize_t used =
            nghttp2_session_mem_recv(_session, reinterpret_cast<const uint8_t*>(_rbuf.data()), static_cast<size_t>(n));
        if (used < 0) {
            if (_error.empty()) {
                _error =
                    std::string("HTTP/2 error from the server's bytes: ") + nghttp2_strerror(static_cast<int>(used));
            }
            return false;
        }
        if (static_cast<size_t>(n) < _rbuf.size()) {
            return true;
        }
    }
    return true;
}

void h2_connection::expire_requests(int64_t now, int64_t) {
    _now = now;
    for (auto it = _streams_open.begin(); it != _streams_open.end();) {
        auto next = std::next(it);
        if (now >= it->second.tunnel->deadline()) {
            end_stream(it->first, true, true, true);
        }
        it = next;
    }
}

void h2_connection::abandon(h3_failure, int64_t now) {
    std::unordered_map<int32_t, stream_state> lost;
    lost.swap(_streams_open);
    release();
    for (auto& [id, s] : lost) {
        s.tunnel->ended(true, false, now);
    }
}

uint64_t h2_connection::close_gracefully(int64_t now, int64_t, int64_t) {
    _now = now;
    for (auto& [id, s] : _streams_open) {
        s.tunnel->run_over();
    }
    if (_session != nullptr && _phase != phase::closed) {
        nghttp2_session_terminate_session(_session, NGHTTP2_NO_ERROR); // GOAWAY
        write_out();
    }
    release();
    return 0;
}

} // namespace ringbolt_load
