// What the tree's own QUIC clients (the tests' in-process client, tests/unit/quic/quic_pair.hpp,
// and the load generator's HTTP/3 client, tools/load/h3_connection.cpp) begin a connection
// with: random connection ids, ngtcp2's defaults and their flow-control windows.
// Header-only, on ngtcp2's headers alone (tools/load includes it with nothing else of quic/).
#pragma once

#include <ngtcp2/ngtcp2.h>

#include <cstddef>
#include <cstdint>
#include <sys/random.h>

namespace ringbolt::quic {

/// `n` random bytes at `p` (getrandom, again until all came).
inline void fill_random(uint8_t* p, size_t n) noexcept {
    while (n > 0) {
        ssize_t k = getrandom(p, n, 0);
        if (k > 0) {
            p += k;
            n -= static_cast<size_t>(k);
        }
    }
}

/// ngtcp2's rand and get_new_connection_id: random bytes, random ids and reset tokens.
inline void set_random_callbacks(ngtcp2_callbacks& cb) noexcept {
    cb.rand = [](uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) { fill_random(dest, len); };
    cb.get_new_connection_id = [](ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void*) {
        fill_random(cid->data, len);
        cid->datalen = len;
        fill_random(token, NGTCP2_STATELESS_RESET_TOKENLEN);
        return 0;
    };
}

/// What ngtcp2_conn_client_new takes besides the path and callbacks.
struct client_start {
    ngtcp2_cid dcid; ///< random, 18 bytes (RFC 9000 §7.2: at least 8)
    ngtcp2_cid scid; ///< random, 17 bytes
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
};

/// A client's start at `now`: ngtcp2's default settings and transport parameters with 4 MiB
/// a request stream, 1 MiB a unidirectional one and 16 MiB the connection; the caller sets
/// how many unidirectional streams the server may open and the idle timeout.
inline client_start client_start_at(ngtcp2_tstamp now) noexcept {
    client_start c;
    c.dcid.datalen = 18;
    fill_random(c.dcid.data, c.dcid.datalen);
    c.scid.datalen = 17;
    fill_random(c.scid.data, c.scid.datalen);
    ngtcp2_settings_default(&c.settings);
    c.settings.initial_ts = now;
    ngtcp2_transport_params_default(&c.params);
    c.params.initial_max_stream_data_bidi_local = 4 << 20;
    c.params.initial_max_stream_data_uni = 1 << 20;
    c.params.initial_max_data = 16 << 20;
    return c;
}

} // namespace ringbolt::quic
