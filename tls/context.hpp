// TLS server configuration: the OpenSSL contexts (a default certificate plus one per
// SNI name), built once from the options and shared read-only by every reactor, and
// the factory that gives each accepted connection its TLS transport. A reload builds
// new contexts for new connections; connections already open keep theirs.
#pragma once

#include "core/log_throttle.hpp"
#include "transport/transport.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;

namespace ringbolt::tls {

/// Client certificates (mTLS): not asked for, asked for and checked when sent, or required.
enum class client_certs : uint8_t { none = 0, optional = 1, required = 2 };

struct sni_entry {
    std::string name; ///< lower case; "*.example.com" matches one label
    std::string certfile;
    std::string keyfile;
};

/// What ALPN offers (RFC 7301): protocol ids in the server's order of preference, as the
/// composition root takes them from the protocol registry (server/protocols.cpp,
/// alpn_offer_for): TLS names no protocol. A client whose list has none of them goes on
/// without ALPN (its first bytes decide), unless `required` (an HTTP/2-only server): it
/// gets the fatal no_application_protocol alert (RFC 7301 §3.2). A client that offers no
/// ALPN at all always goes on. Empty `ids`: no ALPN.
struct alpn_offer {
    std::vector<std::string> ids;
    bool required = false;
};

struct options {
    std::string certfile; ///< PEM chain (leaf first); the default certificate
    std::string keyfile;  ///< PEM key (may be encrypted: `password`)
    std::string password;
    std::string ca_certs; ///< PEM CA bundle that client certificates are checked against
    client_certs cert_reqs = client_certs::none;
    std::string ciphers;      ///< OpenSSL cipher list for TLS 1.2 (empty: OpenSSL's default)
    int min_version = 0x0303; ///< TLS1_2_VERSION or TLS1_3_VERSION
    std::vector<sni_entry> sni;
    uint32_t handshake_timeout_s = 10;
    alpn_offer alpn;
    /// Hand the sending side to the kernel (kTLS) where it offers it (--no-ssl-ktls: never).
    bool ktls = true;
};

/// "1.2", "TLSv1.2", "1.3", "TLSv1.3" -> the OpenSSL version number; 0 otherwise.
int parse_min_version(std::string_view text) noexcept;

/// Immutable once built.
class context {
  public:
    /// Null and `error` (one line naming the option and file) when something is wrong.
    static std::shared_ptr<const context> build(const options& opts, std::string& error);
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    SSL_CTX* default_ctx() const noexcept { return _default; }
    /// The context serving `name` (an SNI host name), or null: the default serves it.
    SSL_CTX* for_name(std::string_view name) const noexcept;
    uint32_t handshake_timeout_s() const noexcept { return _handshake_timeout_s; }
    /// The ALPN offer in its wire form (each id after its length byte), and whether a
    /// client that shares none of it is refused (alpn_offer).
    std::string_view alpn_wire() const noexcept { return _alpn_wire; }
    bool alpn_required() const noexcept { return _alpn_required; }
    /// Connections offer OpenSSL their sending side for kTLS (asked for, and the kernel
    /// offers it: ktls_unavailable_reason() is empty).
    bool ktls() const noexcept { return _ktls; }
    /// PEM of the certificate `ctx` (one of this context's) serves; null if unknown.
    std::shared_ptr<const std::string> server_cert_pem(SSL_CTX* ctx) const noexcept;

  private:
    void add_server_pem(SSL_CTX* ctx);
    context() = default;
    SSL_CTX* _default = nullptr;
    std::vector<std::pair<std::string, SSL_CTX*>> _by_name;
    uint32_t _handshake_timeout_s = 10;
    std::string _alpn_wire;
    bool _alpn_required = false;
    bool _ktls = false;
    /// Each SSL_CTX's certificate as PEM, made once here: connections share the text.
    std::vector<std::pair<SSL_CTX*, std::shared_ptr<const std::string>>> _server_pems;
};

/// Whether the kernel can take TLS records over (kTLS): empty when it can, else why not
/// (probed once per process on loopback connections: the TLS layer, then each cipher).
const std::string& ktls_unavailable_reason();
/// The ciphers whose sending keys the kernel took in that probe ("AES-128-GCM", ...).
const std::vector<std::string>& ktls_cipher_names();
/// Whether the kernel takes new sending keys on a socket that has some (a TLS 1.3
/// KeyUpdate under kTLS; the probe's finding).
bool ktls_takes_new_keys() noexcept;
/// The size of the kernel's struct of sending keys for `cipher_type` (TLS_CIPHER_*); 0
/// when the probe found the kernel does not take that cipher.
size_t ktls_keys_size(uint16_t cipher_type) noexcept;
/// The socket calls the probe makes on its loopback connections: the system's (the io
/// layer's defaults) unless a test that plays the kernel's TLS (uring::fake_backend's
/// kernel_tls) gives its own before anything asks the probe. False when the probe ran
/// already (it runs once per process): `calls` is not used.
bool set_ktls_probe_calls(uring::ktls_calls& calls) noexcept;

/// One log line per kind per 10 s at most, shared by every reactor (hence the lock: only
/// failures come here).
class reporter {
  public:
    enum kind : uint8_t { handshake, timeout, record, truncated, file, kinds };
    void report(kind k, const char* what, const char* detail) noexcept;

  private:
    std::mutex _mutex;
    core::log_throttle _throttles[kinds] = {core::log_throttle{10}, core::log_throttle{10}, core::log_throttle{10},
                                            core::log_throttle{10}, core::log_throttle{10}};
};

class factory final : public transport::transport_factory {
  public:
    explicit factory(std::shared_ptr<const context> ctx) : _ctx(std::move(ctx)) {}
    std::unique_ptr<transport::transport> make(core::core_counters& counters, uint32_t now_s) noexcept override;
    /// New connections get `ctx` from now on (any thread).
    void replace(std::shared_ptr<const context> ctx) noexcept;
    std::shared_ptr<const context> current() const noexcept;

  private:
    mutable std::mutex _mutex;
    std::shared_ptr<const context> _ctx;
    reporter _reporter;
};

} // namespace ringbolt::tls
