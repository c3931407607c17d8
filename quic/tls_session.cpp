// GnuTLS credentials and per-connection server sessions for QUIC (see tls_session.hpp).
#include "quic/tls_session.hpp"

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <cstring>

namespace ringbolt::quic {

namespace {

// TLS 1.3 only (QUIC needs it, RFC 9001 §4.2), without the middlebox compatibility mode
// QUIC forbids (§8.4), with the AEADs QUIC defines.
constexpr const char* priority = "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:"
                                 "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:"
                                 "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1";

} // namespace

std::shared_ptr<const tls_credentials> tls_credentials::load(const std::string& certfile, const std::string& keyfile,
                                                             std::string& error) {
    std::shared_ptr<tls_credentials> c(new tls_credentials());
    if (int rv = gnutls_certificate_allocate_credentials(&c->_cred); rv != 0) {
        error = std::string("QUIC TLS: ") + gnutls_strerror(rv);
        return nullptr;
    }
    if (int rv = gnutls_priority_init(&c->_priority, priority, nullptr); rv != 0) {
        error = std::string("QUIC TLS: ") + gnutls_strerror(rv);
        return nullptr;
    }
    int rv = gnutls_certificate_set_x509_key_file(c->_cred, certfile.c_str(), keyfile.c_str(), GNUTLS_X509_FMT_PEM);
    if (rv != 0) {
        error = "QUIC TLS: cannot load " + certfile + " / " + keyfile + ": " + gnutls_strerror(rv);
        return nullptr;
    }
    return c;
}

tls_credentials::~tls_credentials() {
    if (_priority != nullptr) {
        gnutls_priority_deinit(_priority);
    }
    if (_cred != nullptr) {
        gnutls_certificate_free_credentials(_cred);
    }
}

gnutls_session_t tls_credentials::new_server_session(ngtcp2_crypto_conn_ref* ref) const noexcept {
    gnutls_session_t s = nullptr;
    if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_END_OF_EARLY_DATA) != 0) {
        return nullptr;
    }
    gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(alpn_h3)),
                        static_cast<unsigned>(std::strlen(alpn_h3))};
    if (gnutls_priority_set(s, _priority) != 0 || ngtcp2_crypto_gnutls_configure_server_session(s) != 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, _cred) != 0 ||
        gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0) {
        gnutls_deinit(s);
        return nullptr;
    }
    gnutls_session_set_ptr(s, ref);
    return s;
}

} // namespace ringbolt::quic
