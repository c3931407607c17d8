// Reading a completed handshake's facts out of OpenSSL (see connection_info.hpp). Runs
// once per TLS connection, on the reactor thread; the certificates are converted to PEM
// here so that every request of the connection only copies text.
#include "tls/connection_info.hpp"

#include "tls/context.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace ringbolt::tls {

namespace {

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// RFC 4514 (RFC 2253's successor): most specific RDN first, "," between RDNs, special
// characters escaped. OpenSSL's RFC 2253 flags, except that UTF-8 is kept as text (RFC
// 4514 §2.4 escapes only the specials; ASN1_STRFLGS_ESC_MSB would write \C3\A9).
std::string rfc4514(const X509_NAME* name) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) {
        return {};
    }
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    std::string out = bio_text(bio);
    BIO_free(bio);
    return out;
}

} // namespace

std::string pem_of(X509* cert) {
    if (cert == nullptr) {
        return {};
    }
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) {
        return {};
    }
    std::string out = PEM_write_bio_X509(bio, cert) == 1 ? bio_text(bio) : std::string();
    BIO_free(bio);
    return out;
}

void read_connection_info(SSL* ssl, const context& ctx, core::tls_info& out) {
    out.version = static_cast<uint16_t>(SSL_version(ssl));
    out.version_name = SSL_get_version(ssl);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) {
        // The low 16 bits of OpenSSL's id are the IANA code (RFC 8446 §B.4: {0x13,0x01} -> 0x1301).
        out.cipher_suite = SSL_CIPHER_get_protocol_id(c);
        out.cipher_name = SSL_CIPHER_get_name(c);
    }
    out.resumed = SSL_session_reused(ssl) == 1;
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn != nullptr) {
        out.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    }
    if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
        out.server_name = sni;
    }
    out.server_cert_pem = ctx.server_cert_pem(SSL_get_SSL_CTX(ssl));

    // The client's leaf (also after a resumption: OpenSSL keeps it in the session); on the
    // server side the peer chain does not hold the leaf (SSL_get_peer_cert_chain(3)).
    X509* leaf = SSL_get0_peer_certificate(ssl);
    if (leaf == nullptr) {
        ERR_clear_error();
        return;
    }
    out.client_chain_pem.push_back(pem_of(leaf));
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
        int n = sk_X509_num(chain);
        for (int i = 0; i < n; ++i) {
            X509* c = sk_X509_value(chain, i);
            if (X509_cmp(c, leaf) != 0) { // some builds list the leaf first; never twice
                out.client_chain_pem.push_back(pem_of(c));
            }
        }
    }
    out.client_subject = rfc4514(X509_get_subject_name(leaf));
    out.client_issuer = rfc4514(X509_get_issuer_name(leaf));
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        // Not reached with the verify modes ringbolt sets (a certificate that fails is
        // refused in the handshake), kept so the field never lies if that changes.
        out.client_verify_error = X509_verify_cert_error_string(verify);
    }
    ERR_clear_error();
}

} // namespace ringbolt::tls
