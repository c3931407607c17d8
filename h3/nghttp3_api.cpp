// libnghttp3 0.8 behind h3::session: the callback table, the settings, and each call the
// connection makes, translated to the session's plain types. Nothing else includes
// <nghttp3/nghttp3.h> (the tests' client does, as the independent peer).
#include "h3/nghttp3_api.hpp"

#include <nghttp3/nghttp3.h>

#include <algorithm>
#include <vector>

static_assert(NGHTTP3_VERSION_NUM >= 0x000800 && NGHTTP3_VERSION_NUM < 0x000900,
              "h3/nghttp3_api.cpp is written against libnghttp3 0.8.x: port this file to another release");

namespace ringbolt::h3 {

namespace {

session_events& ev(void* user) noexcept {
    return *static_cast<session_events*>(user);
}

int result(int rv) noexcept {
    return rv == 0 ? 0 : NGHTTP3_ERR_CALLBACK_FAILURE;
}

std::string_view text(nghttp3_rcbuf* buf) noexcept {
    nghttp3_vec v = nghttp3_rcbuf_get_buf(buf);
    return {reinterpret_cast<const char*>(v.base), v.len};
}

int cb_acked(nghttp3_conn*, int64_t id, uint64_t n, void* user, void*) {
    return result(ev(user).on_body_acked(id, n));
}
int cb_close(nghttp3_conn*, int64_t id, uint64_t code, void* user, void*) {
    return result(ev(user).on_stream_close(id, code));
}
int cb_recv_data(nghttp3_conn*, int64_t id, const uint8_t* data, size_t len, void* user, void*) {
    return result(ev(user).on_body(id, {data, len}));
}
int cb_deferred_consume(nghttp3_conn*, int64_t id, size_t n, void* user, void*) {
    return result(ev(user).on_deferred_consume(id, n));
}
int cb_begin_headers(nghttp3_conn*, int64_t id, void* user, void*) {
    return result(ev(user).on_begin_headers(id));
}
int cb_header(nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* name, nghttp3_rcbuf* value, uint8_t, void* user,
              void*) {
    return result(ev(user).on_header(id, text(name), text(value), false));
}
int cb_trailer(nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* name, nghttp3_rcbuf* value, uint8_t, void* user,
               void*) {
    return result(ev(user).on_header(id, text(name), text(value), true));
}
int cb_end_headers(nghttp3_conn*, int64_t id, int fin, void* user, void*) {
    return result(ev(user).on_end_headers(id, fin != 0, false));
}
int cb_end_trailers(nghttp3_conn*, int64_t id, int fin, void* user, void*) {
    return result(ev(user).on_end_headers(id, fin != 0, true));
}
int cb_begin_trailers(nghttp3_conn*, int64_t, void*, void*) {
    return 0;
}
int cb_stop_sending(nghttp3_conn*, int64_t id, uint64_t code, void* user, void*) {
    return result(ev(user).on_want_stop_sending(id, code));
}
int cb_end_stream(nghttp3_conn*, int64_t id, void* user, void*) {
    return result(ev(user).on_end_stream(id));
}
int cb_reset_stream(nghttp3_conn*, int64_t id, uint64_t code, void* user, void*) {
    return result(ev(user).on_want_reset(id, code));
}
int cb_shutdown(nghttp3_conn*, int64_t id, void* user) {
    return result(ev(user).on_peer_goaway(id));
}

nghttp3_ssize cb_read_data(nghttp3_conn*, int64_t id, nghttp3_vec* vec, size_t veccnt, uint32_t* pflags, void* user,
                           void*) {
    quic::out_piece pieces[quic::stream_output::max_pieces];
    body_flags flags;
    long n = ev(user).on_read_body(id, pieces, std::min(veccnt, quic::stream_output::max_pieces), flags);
    if (n == session::would_block) {
        return NGHTTP3_ERR_WOULDBLOCK;
    }
    if (n < 0) {
        return NGHTTP3_ERR_CALLBACK_FAILURE;
    }
    for (long i = 0; i < n; ++i) {
        vec[i].base = const_cast<uint8_t*>(pieces[i].data); // nghttp3 only reads them
        vec[i].len = pieces[i].len;
    }
    if (flags.eof) {
        *pflags |= NGHTTP3_DATA_FLAG_EOF;
        if (flags.trailers) {
            *pflags |= NGHTTP3_DATA_FLAG_NO_END_STREAM;
        }
    }
    return n;
}

const nghttp3_callbacks callbacks = {
    cb_acked,        cb_close,       cb_recv_data,      cb_deferred_consume, cb_begin_headers,
    cb_header,       cb_end_headers, cb_begin_trailers, cb_trailer,          cb_end_trailers,
    cb_stop_sending, cb_end_stream,  cb_reset_stream,   cb_shutdown,
};

// The fields as nghttp3's pairs, in the thread's scratch vector: nghttp3 copies them when
// a frame is submitted.
std::vector<nghttp3_nv>& nva(std::span<const field> fields) {
    thread_local std::vector<nghttp3_nv> out;
    out.clear();
    for (const field& f : fields) {
        out.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                       reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(), f.value.size(),
                       NGHTTP3_NV_FLAG_NONE});
    }
    return out;
}

} // namespace

// nghttp3 allocates some eight blocks a request (its stream, frames, QPACK's fields): they
// come from the reactor's block_pool (core/small_blocks.hpp) given as user data.
struct session::allocator {
    nghttp3_mem mem;
    explicit allocator(core::block_pool* pool) noexcept
        : mem{pool, [](size_t n, void* ud) { return static_cast<core::block_pool*>(ud)->alloc(n); },
              [](void* p, void* ud) { static_cast<core::block_pool*>(ud)->release(p); },
              [](size_t count, size_t size, void* ud) {
                  return static_cast<core::block_pool*>(ud)->zeroed(count, size);
              },
              [](void* p, size_t n, void* ud) { return static_cast<core::block_pool*>(ud)->resize(p, n); }} {}
};

session::session(session_events& events, const session_limits& limits, core::block_pool* blocks) {
    nghttp3_settings s;
    nghttp3_settings_default(&s);
    s.max_field_section_size = limits.max_field_section_size;
    s.qpack_max_dtable_capacity = limits.qpack_max_dtable_capacity;
    s.qpack_blocked_streams = limits.qpack_blocked_streams;
    // nghttp3 then accepts :protocol on a CONNECT (and checks its pseudo-headers).
    s.enable_connect_protocol = limits.enable_connect_protocol ? 1 : 0;
    if (blocks != nullptr) {
        _mem = std::make_unique<allocator>(blocks);
    }
    if (nghttp3_conn_server_new(&_conn, &callbacks, &s, _mem ? &_mem->mem : nullptr, &events) != 0) {
        _conn = nullptr;
        return;
    }
}

session::~session() {
    if (_conn != nullptr) {
        nghttp3_conn_del(_conn);
    }
}

int session::bind_streams(int64_t control, int64_t qpack_encoder, int64_t qpack_decoder) noexcept {
    int rv = nghttp3_conn_bind_control_stream(_conn, control);
    return rv != 0 ? rv : nghttp3_conn_bind_qpack_streams(_conn, qpack_encoder, qpack_decoder);
}

namespace {

/// A QUIC variable-length integer at the front of `b` (RFC 9000 §16): its length, 0 when
/// `b` does not hold all of it.
size_t varint(std::string_view b, uint64_t& v) noexcept {
    if (b.empty()) {
        return 0;
    }
    size_t n = size_t{1} << (static_cast<uint8_t>(b[0]) >> 6);
    if (b.size() < n) {
        return 0;
    }
    v = static_cast<uint8_t>(b[0]) & 0x3f;
    for (size_t i = 1; i < n; ++i) {
        v = (v << 8) | static_cast<uint8_t>(b[i]);
    }
    return n;
}

/// Our own library error for a control frame over session::max_control_frame (closed with
/// H3_EXCESSIVE_LOAD; nghttp3 0.8 has no error of that kind).
constexpr int err_control_frame_too_large = -1'000'001;

// RFC 9114 §6.2.1 and §7.2, RFC 9218 §7.1 (nghttp3 0.8 keeps these in a private header).
constexpr uint64_t stream_type_control = 0x00;
constexpr uint64_t frame_cancel_push = 0x03;
constexpr uint64_t frame_settings = 0x04;
constexpr uint64_t frame_goaway = 0x07;
constexpr uint64_t frame_max_push_id = 0x0d;
constexpr uint64_t frame_priority_update = 0xf0700;
constexpr uint64_t frame_priority_update_push = 0xf0701;

} // namespace

size_t session::whole_control_frames(std::string_view b, uint64_t& pass, bool& too_large) noexcept {
    size_t at = 0;
    while (at < b.size()) {
        if (pass > 0) {
            size_t take = static_cast<size_t>(std::min<uint64_t>(pass, b.size() - at));
            at += take;
            pass -= take;
            continue;
        }
        uint64_t type = 0;
        uint64_t len = 0;
        size_t t = varint(b.substr(at), type);
        size_t l = t == 0 ? 0 : varint(b.substr(at + t), len);
        if (l == 0) {
            break; // the header is not whole
        }
        bool in_parts = type == frame_settings || type == frame_goaway || type == frame_max_push_id ||
                        type == frame_cancel_push || type == frame_priority_update ||
                        type == frame_priority_update_push;
        if (!in_parts) {
            at += t + l; // nghttp3 skips its payload as it comes, or refuses the type at once
            pass = len;
            continue;
        }
        if (len > max_control_frame) {
            too_large = true;
            break;
        }
        if (b.size() - at < t + l + len) {
            break; // wait for the rest of the frame
        }
        at += t + l + static_cast<size_t>(len);
    }
    return at;
}

// nghttp3 0.8 aborts the process (nghttp3_conn.c:943, assert) when a PRIORITY_UPDATE
// arrives cut right after its element id with its field value in a later read; upstream
// fixed it in 1.10.0 (32caf8c). A client's control stream carries a few small frames, so
// it is given to nghttp3 in whole frames and no read ends inside one (what is held back
// is reported consumed when it goes). Other unidirectional streams are not touched once
// their type is known.
int64_t session::read_stream(int64_t id, std::span<const uint8_t> data, bool fin) noexcept {
    if ((id & 3) != 2) [[likely]] {
        return nghttp3_conn_read_stream(_conn, id, data.data(), data.size(), fin ? 1 : 0);
    }
    uni_feed& f = _uni[id];
    if (f.type == uni_feed::kind::other) {
        return nghttp3_conn_read_stream(_conn, id, data.data(), data.size(), fin ? 1 : 0);
    }
    return feed_control(id, f, data, fin);
}

int64_t session::feed_control(int64_t id, uni_feed& f, std::span<const uint8_t> data, bool fin) noexcept {
    f.held.append(reinterpret_cast<const char*>(data.data()), data.size());
    size_t go = 0;
    if (f.type == uni_feed::kind::untyped) {
        uint64_t type = 0;
        size_t n = varint(f.held, type);
        if (n == 0 && !fin) {
            return 0; // the stream's type is not whole yet
        }
        if (n == 0 || type != stream_type_control) {
            // Not a control stream (or it ended before its type): nghttp3 reads the rest.
            f.type = uni_feed::kind::other;
            std::string held = std::move(f.held);
            f.held = std::string();
            return nghttp3_conn_read_stream(_conn, id, reinterpret_cast<const uint8_t*>(held.data()), held.size(),
                                            fin ? 1 : 0);
        }
        f.type = uni_feed::kind::control;
        go = n;
    }
    bool too_large = false;
    go += whole_control_frames(std::string_view(f.held).substr(go), f.pass, too_large);
    if (too_large) {
        return err_control_frame_too_large;
    }
    if (fin) {
        go = f.held.size(); // the stream ends: nghttp3 says what a cut frame on it means
    }
    if (go == 0 && !fin) {
        return 0;
    }
    int64_t rv = nghttp3_conn_read_stream(_conn, id, reinterpret_cast<const uint8_t*>(f.held.data()), go, fin ? 1 : 0);
    if (rv >= 0) {
        f.held.erase(0, go);
    }
    return rv;
}

long session::write_stream(int64_t& id, bool& fin, quic::out_piece* vec, size_t max) noexcept {
    nghttp3_vec v[quic::stream_output::max_pieces];
    int f = 0;
    nghttp3_ssize n = nghttp3_conn_writev_stream(_conn, &id, &f, v, std::min(max, quic::stream_output::max_pieces));
    fin = f != 0;
    for (nghttp3_ssize i = 0; i < n; ++i) {
        vec[i] = {v[i].base, v[i].len};
    }
    return static_cast<long>(n);
}

int session::add_write_offset(int64_t id, size_t n) noexcept {
    return nghttp3_conn_add_write_offset(_conn, id, n);
}

int session::add_ack_offset(int64_t id, uint64_t n) noexcept {
    return nghttp3_conn_add_ack_offset(_conn, id, n);
}

void session::block_stream(int64_t id) noexcept {
    nghttp3_conn_block_stream(_conn, id);
}

int session::unblock_stream(int64_t id) noexcept {
    return nghttp3_conn_unblock_stream(_conn, id);
}

int session::resume_stream(int64_t id) noexcept {
    return nghttp3_conn_resume_stream(_conn, id);
}

void session::shutdown_write(int64_t id) noexcept {
    nghttp3_conn_shutdown_stream_write(_conn, id);
}

int session::shutdown_read(int64_t id) noexcept {
    return nghttp3_conn_shutdown_stream_read(_conn, id);
}

int session::close_stream(int64_t id, uint64_t app_error) noexcept {
    _uni.erase(id);
    int rv = nghttp3_conn_close_stream(_conn, id, app_error);
    return rv == NGHTTP3_ERR_STREAM_NOT_FOUND ? 0 : rv;
}

int session::submit_response(int64_t id, std::span<const field> fields, bool body) noexcept {
    std::vector<nghttp3_nv>& list = nva(fields);
    nghttp3_data_reader reader{cb_read_data};
    return nghttp3_conn_submit_response(_conn, id, list.data(), list.size(), body ? &reader : nullptr);
}

int session::make_incremental(int64_t id) noexcept {
    nghttp3_pri pri{};
    if (int rv = nghttp3_conn_get_stream_priority(_conn, &pri, id); rv != 0) {
        return rv;
    }
    pri.inc = 1;
    return nghttp3_conn_set_stream_priority(_conn, id, &pri);
}

int session::submit_trailers(int64_t id, std::span<const field> fields) noexcept {
    std::vector<nghttp3_nv>& list = nva(fields);
    return nghttp3_conn_submit_trailers(_conn, id, list.data(), list.size());
}

int session::shutdown() noexcept {
    return nghttp3_conn_shutdown(_conn);
}

void session::allow_client_streams(uint64_t n) noexcept {
    nghttp3_conn_set_max_client_streams_bidi(_conn, n);
}

uint64_t session::error_code(int64_t liberr) noexcept {
    if (liberr == err_control_frame_too_large) {
        return NGHTTP3_H3_EXCESSIVE_LOAD;
    }
    return nghttp3_err_infer_quic_app_error_code(static_cast<int>(liberr));
}

bool session::is_message_error(int64_t liberr) noexcept {
    return liberr == NGHTTP3_ERR_MALFORMED_HTTP_MESSAGING;
}

const char* session::error_text(int64_t liberr) noexcept {
    if (liberr == err_control_frame_too_large) {
        return "a control frame over 16 KiB";
    }
    return nghttp3_strerror(static_cast<int>(liberr));
}

const char* session::library_version() noexcept {
    return nghttp3_version(0)->version_str;
}

} // namespace ringbolt::h3
