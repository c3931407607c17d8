// The callbacks of ngtcp2's crypto helper (GnuTLS backend) that every QUIC connection sets,
// server or client: the server's (quic/ngtcp2_api.cpp), the tests' client and the load
// generator's HTTP/3 client (tools/load, which includes this header and nothing else of
// quic/). Header-only, on ngtcp2's headers alone.
#pragma once

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

namespace ringbolt::quic {

/// The crypto helper's callbacks for either side; the side's own Initial handling is the
/// caller's (recv_client_initial, or set_client_crypto_callbacks).
inline void set_crypto_callbacks(ngtcp2_callbacks& cb) noexcept {
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
}

/// A client's: the above, its Initial and the helper's Retry handling (a caller that
/// watches for a Retry sets its own recv_retry after).
inline void set_client_crypto_callbacks(ngtcp2_callbacks& cb) noexcept {
    set_crypto_callbacks(cb);
    cb.client_initial = ngtcp2_crypto_client_initial_cb;
    cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
}

} // namespace ringbolt::quic
