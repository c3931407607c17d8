// What a TLS connection tells the application (mTLS users need the client certificate):
// the negotiated version and cipher, the server's certificate and the client's chain.
// Filled once per connection by the TLS transport when the handshake completes, before
// any request of the connection exists, and read-only afterwards: every request (and
// HTTP/2 stream) of the connection shares it, on any thread. Plain TCP has none.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ringbolt::http {

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

/// An owning reference to a tls_info: one pointer with an intrusive count, so a request
/// that has none (plain TCP: the common case) moves and dies as cheaply as a raw pointer
/// (a shared_ptr is two words to move and null). The last reference deletes the record.
class tls_ref {
  public:
    tls_ref() noexcept = default;
    explicit tls_ref(const tls_info* p) noexcept : _p(p) {
        if (_p != nullptr) {
            _p->refs.fetch_add(1, std::memory_order_relaxed);
        }
    }
    tls_ref(const tls_ref& o) noexcept : tls_ref(o._p) {}
    tls_ref(tls_ref&& o) noexcept : _p(std::exchange(o._p, nullptr)) {}
    tls_ref& operator=(tls_ref o) noexcept {
        std::swap(_p, o._p);
        return *this;
    }
    ~tls_ref() {
        if (_p != nullptr) [[unlikely]] {
            release(_p);
        }
    }
    const tls_info* get() const noexcept { return _p; }
    const tls_info& operator*() const noexcept { return *_p; }
    const tls_info* operator->() const noexcept { return _p; }
    explicit operator bool() const noexcept { return _p != nullptr; }

  private:
    static void release(const tls_info* p) noexcept {
        if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            delete p;
        }
    }
    const tls_info* _p = nullptr;
};

} // namespace ringbolt::http
