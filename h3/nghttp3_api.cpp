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

std::vector<nghttp3_nv> nva(std::span<const field> fields) {
    std::vector<nghttp3_nv> out;
    out.reserve(fields.size());
    for (const field& f : fields) {
        out.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                       reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(), f.value.size(),
                       NGHTTP3_NV_FLAG_NONE});
    }
    return out;
}

} // namespace

session::session(session_events& events, const session_limits& limits) {
    nghttp3_settings s;
    nghttp3_settings_default(&s);
    s.max_field_section_size = limits.max_field_section_size;
    s.qpack_max_dtable_capacity = limits.qpack_max_dtable_capacity;
    s.qpack_blocked_streams = limits.qpack_blocked_streams;
    if (nghttp3_conn_server_new(&_conn, &callbacks, &s, nullptr, &events) != 0) {
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

int64_t session::read_stream(int64_t id, std::span<const uint8_t> data, bool fin) noexcept {
    return nghttp3_conn_read_stream(_conn, id, data.data(), data.size(), fin ? 1 : 0);
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
    int rv = nghttp3_conn_close_stream(_conn, id, app_error);
    return rv == NGHTTP3_ERR_STREAM_NOT_FOUND ? 0 : rv;
}

int session::submit_response(int64_t id, std::span<const field> fields, bool body) noexcept {
    std::vector<nghttp3_nv> list = nva(fields);
    nghttp3_data_reader reader{cb_read_data};
    return nghttp3_conn_submit_response(_conn, id, list.data(), list.size(), body ? &reader : nullptr);
}

int session::submit_trailers(int64_t id, std::span<const field> fields) noexcept {
    std::vector<nghttp3_nv> list = nva(fields);
    return nghttp3_conn_submit_trailers(_conn, id, list.data(), list.size());
}

int session::shutdown() noexcept {
    return nghttp3_conn_shutdown(_conn);
}

void session::allow_client_streams(uint64_t n) noexcept {
    nghttp3_conn_set_max_client_streams_bidi(_conn, n);
}

uint64_t session::error_code(int64_t liberr) noexcept {
    return nghttp3_err_infer_quic_app_error_code(static_cast<int>(liberr));
}

bool session::is_message_error(int64_t liberr) noexcept {
    return liberr == NGHTTP3_ERR_MALFORMED_HTTP_MESSAGING;
}

const char* session::error_text(int64_t liberr) noexcept {
    return nghttp3_strerror(static_cast<int>(liberr));
}

const char* session::library_version() noexcept {
    return nghttp3_version(0)->version_str;
}

} // namespace ringbolt::h3
