// TLS 1.3 for QUIC over GnuTLS (ngtcp2's GnuTLS crypto backend: OpenSSL 3.0 has no QUIC
// API): the server's certificate and key, loaded from the same PEM files as
// --ssl-certfile/--ssl-keyfile and shared read-only, and one session per connection
// offering ALPN "h3" only. A reload (SIGHUP) gives new connections new credentials; a
// connection keeps the ones it was made with.
#pragma once

#include <memory>
#include <mutex>
#include <string>

using gnutls_certificate_credentials_t = struct gnutls_certificate_credentials_st*;
using gnutls_priority_t = struct gnutls_priority_st*;
using gnutls_session_t = struct gnutls_session_int*;
struct ngtcp2_crypto_conn_ref;

namespace ringbolt::quic {

class tls_credentials {
  public:
    /// nullptr with `error` set when the files do not load (path and GnuTLS's reason).
    static std::shared_ptr<const tls_credentials> load(const std::string& certfile, const std::string& keyfile,
                                                       std::string& error);
    ~tls_credentials();
    tls_credentials(const tls_credentials&) = delete;
    tls_credentials& operator=(const tls_credentials&) = delete;

    /// A server session for one connection (TLS 1.3 only, ALPN "h3" required), bound to
    /// the connection through `ref`; nullptr when GnuTLS refuses (out of memory).
    gnutls_session_t new_server_session(ngtcp2_crypto_conn_ref* ref) const noexcept;

  private:
    tls_credentials() = default;
    gnutls_certificate_credentials_t _cred = nullptr;
    /// Parsed once: a session given its own copy of the string (gnutls_priority_set_direct)
    /// parsed it again and held ~8 KB more for its whole handshake (issue 40).
    gnutls_priority_t _priority = nullptr;
};

/// The credentials new connections get, shared by every reactor's endpoint. `replace`
/// (any thread) changes them for the connections made after it.
class credentials_holder {
  public:
    explicit credentials_holder(std::shared_ptr<const tls_credentials> c) : _current(std::move(c)) {}
    std::shared_ptr<const tls_credentials> current() const noexcept {
        std::lock_guard<std::mutex> lock(_mutex);
        return _current;
    }
    void replace(std::shared_ptr<const tls_credentials> c) noexcept {
        std::lock_guard<std::mutex> lock(_mutex);
        _current.swap(c); // (the old ones go when their last connection does)
    }

  private:
    mutable std::mutex _mutex;
    std::shared_ptr<const tls_credentials> _current;
};

/// The ALPN protocol QUIC connections offer and require.
inline constexpr const char* alpn_h3 = "h3";

} // namespace ringbolt::quic
