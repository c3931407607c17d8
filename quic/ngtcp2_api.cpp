// ngtcp2 0.12's callback table and versioned calls behind quic/ngtcp2_api.hpp.
#include "quic/ngtcp2_api.hpp"

#include "quic/crypto_callbacks.hpp"

#include <sys/random.h>

namespace ringbolt::quic::ngtcp2_api {

namespace {

conn_events* events_of(void* user_data) {
    return static_cast<conn_events*>(user_data);
}

void fill_random(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
    while (len > 0) {
        ssize_t n = getrandom(dest, len, 0);
        if (n <= 0) {
            continue; // EINTR; the urandom pool never blocks after boot
        }
        dest += n;
        len -= static_cast<size_t>(n);
    }
}

int fail_if(int rc) {
    return rc == 0 ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

int handshake_completed(ngtcp2_conn*, void* ud) {
    return fail_if(events_of(ud)->on_handshake_completed());
}

int stream_open(ngtcp2_conn*, int64_t id, void* ud) {
    return fail_if(events_of(ud)->on_stream_open(id));
}

int recv_stream_data(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t, const uint8_t* data, size_t len, void* ud,
                     void*) {
    return fail_if(events_of(ud)->on_stream_data(id, data, len, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0,
                                                 (flags & NGTCP2_STREAM_DATA_FLAG_EARLY) != 0));
}

int acked_stream_data_offset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t len, void* ud, void*) {
    return fail_if(events_of(ud)->on_acked(id, len));
}

int stream_close(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t app_error, void* ud, void*) {
    if ((flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) == 0) {
        app_error = 0;
    }
    return fail_if(events_of(ud)->on_stream_close(id, app_error));
}

int stream_reset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t app_error, void* ud, void*) {
    return fail_if(events_of(ud)->on_stream_reset(id, app_error));
}

int stream_stop_sending(ngtcp2_conn*, int64_t id, uint64_t app_error, void* ud, void*) {
    return fail_if(events_of(ud)->on_stop_sending(id, app_error));
}

int extend_max_stream_data(ngtcp2_conn*, int64_t id, uint64_t, void* ud, void*) {
    return fail_if(events_of(ud)->on_stream_writable(id));
}

int get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen, void* ud) {
    return fail_if(events_of(ud)->new_connection_id(cid, token, cidlen));
}

int remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* ud) {
    return fail_if(events_of(ud)->retire_connection_id(cid));
}

ngtcp2_callbacks server_callbacks() {
    ngtcp2_callbacks cb{};
    set_crypto_callbacks(cb);
    cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    cb.rand = fill_random;
    cb.handshake_completed = handshake_completed;
    cb.stream_open = stream_open;
    cb.recv_stream_data = recv_stream_data;
    cb.acked_stream_data_offset = acked_stream_data_offset;
    cb.stream_close = stream_close;
    cb.stream_reset = stream_reset;
    cb.stream_stop_sending = stream_stop_sending;
    cb.extend_max_stream_data = extend_max_stream_data;
    cb.get_new_connection_id = get_new_connection_id;
    cb.remove_connection_id = remove_connection_id;
    return cb;
}

} // namespace

void default_settings(ngtcp2_settings& s) noexcept {
    ngtcp2_settings_default(&s);
}

void default_params(ngtcp2_transport_params& p) noexcept {
    ngtcp2_transport_params_default(&p);
}

ngtcp2_cc_algo cc_algo(congestion_control c) noexcept {
    switch (c) {
    case congestion_control::reno:
        return NGTCP2_CC_ALGO_RENO;
    case congestion_control::bbr:
        return NGTCP2_CC_ALGO_BBR;
    case congestion_control::cubic:
        break;
    }
    return NGTCP2_CC_ALGO_CUBIC;
}

void block_allocator(ngtcp2_mem& mem, core::block_pool* pool) noexcept {
    mem.user_data = pool;
    mem.malloc = [](size_t n, void* ud) { return static_cast<core::block_pool*>(ud)->alloc(n); };
    mem.free = [](void* p, void* ud) { static_cast<core::block_pool*>(ud)->release(p); };
    mem.calloc = [](size_t count, size_t size, void* ud) {
        return static_cast<core::block_pool*>(ud)->zeroed(count, size);
    };
    mem.realloc = [](void* p, size_t n, void* ud) { return static_cast<core::block_pool*>(ud)->resize(p, n); };
}

int server_new(ngtcp2_conn** out, const ngtcp2_cid& client_scid, const ngtcp2_cid& our_scid, const ngtcp2_path& path,
               uint32_t version, const ngtcp2_settings& settings, const ngtcp2_transport_params& params,
               const ngtcp2_mem* mem, conn_events* events) noexcept {
    static const ngtcp2_callbacks cb = server_callbacks();
    return ngtcp2_conn_server_new(out, &client_scid, &our_scid, &path, version, &cb, &settings, &params, mem, events);
}

int read_packet(ngtcp2_conn* conn, const ngtcp2_path& path, uint8_t ecn, const uint8_t* pkt, size_t len,
                uint64_t now) noexcept {
    ngtcp2_pkt_info pi{};
    pi.ecn = ecn;
    return ngtcp2_conn_read_pkt(conn, &path, &pi, pkt, len, now);
}

ngtcp2_ssize write_stream(ngtcp2_conn* conn, ngtcp2_path* path, uint8_t* dest, size_t destlen, uint8_t* ecn,
                          ngtcp2_ssize* consumed, uint32_t flags, int64_t stream_id, const ngtcp2_vec* vec,
                          size_t count, uint64_t now) noexcept {
    ngtcp2_pkt_info pi{};
    ngtcp2_ssize n =
        ngtcp2_conn_writev_stream(conn, path, &pi, dest, destlen, consumed, flags, stream_id, vec, count, now);
    *ecn = pi.ecn;
    return n;
}

ngtcp2_ssize write_close_liberr(ngtcp2_conn* conn, uint8_t* dest, size_t destlen, int liberr, uint64_t now) noexcept {
    ngtcp2_connection_close_error ccerr;
    ngtcp2_connection_close_error_default(&ccerr);
    if (liberr == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
        static constexpr char why[] = "handshake timeout";
        ngtcp2_connection_close_error_set_transport_error(&ccerr, NGTCP2_CONNECTION_REFUSED,
                                                          reinterpret_cast<const uint8_t*>(why), sizeof why - 1);
    } else if (liberr == NGTCP2_ERR_CRYPTO) {
        ngtcp2_connection_close_error_set_transport_error_tls_alert(&ccerr, ngtcp2_conn_get_tls_alert(conn), nullptr,
                                                                    0);
    } else if (liberr != 0) {
        ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr, liberr, nullptr, 0);
    }
    ngtcp2_pkt_info pi{};
    return ngtcp2_conn_write_connection_close(conn, nullptr, &pi, dest, destlen, &ccerr, now);
}

ngtcp2_ssize write_close_app(ngtcp2_conn* conn, uint8_t* dest, size_t destlen, uint64_t app_error,
                             const uint8_t* reason, size_t reasonlen, uint64_t now) noexcept {
    ngtcp2_connection_close_error ccerr;
    ngtcp2_connection_close_error_set_application_error(&ccerr, app_error, reason, reasonlen);
    ngtcp2_pkt_info pi{};
    return ngtcp2_conn_write_connection_close(conn, nullptr, &pi, dest, destlen, &ccerr, now);
}

size_t send_quantum(ngtcp2_conn* conn) noexcept {
    return ngtcp2_conn_get_send_quantum(conn);
}

bool peer_acknowledged(ngtcp2_conn* conn) noexcept {
    ngtcp2_conn_stat st;
    ngtcp2_conn_get_conn_stat(conn, &st);
    return st.first_rtt_sample_ts != UINT64_MAX;
}

void update_pkt_tx_time(ngtcp2_conn* conn, uint64_t ts) noexcept {
    ngtcp2_conn_update_pkt_tx_time(conn, ts);
}

size_t max_udp_payload(ngtcp2_conn* conn) noexcept {
    return ngtcp2_conn_get_path_max_tx_udp_payload_size(conn);
}

} // namespace ringbolt::quic::ngtcp2_api
