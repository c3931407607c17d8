// What a TLS connection tells the application (mTLS users need the client certificate):
// the negotiated version and cipher, the server's certificate and the client's chain.
// Filled once per connection by the TLS transport when the handshake completes, before
// any request of the connection exists, and read-only afterwards: every request (and
// HTTP/2 stream) of the connection shares it, on any thread. Plain TCP has none.
#pragma once

#include "core/counted_ref.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringbolt::core {

struct tls_info {
    uint16_t version = 0;      ///< TLS protocol version number (0x0303 TLS 1.2, 0x0304 TLS 1.3)
    uint16_t cipher_suite = 0; ///< IANA cipher suite code (0x1301 TLS_AES_128_GCM_SHA256)
    bool resumed = false;      ///< the session was resumed (no certificate exchange)
    std::string version_name;  ///< OpenSSL's name: "TLSv1.3"
    std::string cipher_name;   ///< OpenSSL's name: "TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"
    std::string alpn;          ///< the protocol ALPN chose ("" when none)
    std::string server_name;   ///< the SNI name the client asked for ("" when none)
    std::shared_ptr<const std::string> server_cert_pem; ///< the certificate served (shared per context)
    std::vector<std::string> client_chain_pem;          ///< the client's certificates, leaf first (empty: none)
    std::string client_subject;                         ///< the leaf's subject, RFC 4514 ("" when no certificate)
    std::string client_issuer;                          ///< the leaf's issuer, RFC 4514
    std::string client_verify_error;       ///< why verification failed ("" when verified or no certificate)
    mutable std::atomic<uint32_t> refs{0}; ///< tls_ref holders (the transport, requests, Python objects)
};

/// An owning reference to a tls_info (core/counted_ref.hpp): one pointer, so a request
/// that has none (plain TCP: the common case) moves and dies as cheaply as a raw pointer.
using tls_ref = counted_ref<tls_info>;

} // namespace ringbolt::core
