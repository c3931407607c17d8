// TLS 1.3 for QUIC over GnuTLS (ngtcp2's GnuTLS crypto backend: OpenSSL 3.0 has no QUIC
// API): the server's certificate and key, loaded from the same PEM files as
// --ssl-certfile/--ssl-keyfile and shared read-only, and one session per connection
// offering ALPN "h3" only. A reload (SIGHUP) gives new connections new credentials; a
// connection keeps the ones it was made with.
//
// Resumption and 0-RTT (RFC 9001 §4.5-4.6): every session sends one session ticket when
// its handshake completes, sealed with a key derived from the workers' shared secret (a
// ticket from one worker resumes on another) and the count of reloads (a SIGHUP rotates
// it: tickets issued before no longer resume; GnuTLS also rotates the key it derives from
// this one as tickets age). Tickets live ticket_lifetime_s. Early data is accepted unless
// turned off, behind GnuTLS's anti-replay check: a ClientHello's early data is taken once
// (replay_store.hpp: one store for every reactor and every worker), and only within the
// anti-replay window, which is the ticket lifetime (GnuTLS restarts its record when a
// 0-RTT attempt comes a window after the last restart, and then refuses early data to
// every ticket issued before: with its 10 s default, a ticket older than 10-20 s on a
// server with steady 0-RTT traffic). What early data may ask for is HTTP/3's to decide
// (h3/connection.cpp: safe methods only, else 425 Too Early, RFC 8470).
#pragma once

#include "quic/replay_store.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

using gnutls_certificate_credentials_t = struct gnutls_certificate_credentials_st*;
using gnutls_priority_t = struct gnutls_priority_st*;
using gnutls_session_t = struct gnutls_session_int*;
using gnutls_anti_replay_t = struct gnutls_anti_replay_st*;
struct ngtcp2_crypto_conn_ref;

namespace ringbolt::quic {

/// How sessions resume (see above).
struct resumption {
    std::array<uint8_t, 32> secret{}; ///< the workers' shared secret (all zero: a key of this process's own)
    uint32_t generation = 0;          ///< reloads so far: each derives a new ticket key
    bool early_data = true;           ///< accept 0-RTT (--no-http3-early-data: resumption only)
    /// Where the ClientHellos whose early data was taken are remembered (with early_data):
    /// the supervisor's, shared by its workers, or this process's own.
    std::shared_ptr<replay_store> replay;
};

/// The lifetime of the session tickets the server issues (GnuTLS's default, made ours),
/// and the anti-replay window: a ClientHello whose early data was taken is remembered this
/// long.
inline constexpr unsigned ticket_lifetime_s = 6 * 3600;

/// Tests only: when RINGBOLT_TEST_TLS_CLOCK_FILE names a file, GnuTLS's clock (and the
/// anti-replay store's) runs that file's number of seconds ahead of the system's, read at
/// each look at the time, so that a test can age tickets without waiting. Called by
/// tls_credentials::load; "" or the reason it cannot be.
std::string use_test_clock_from_environment() noexcept;

class replay_guard;

class tls_credentials {
  public:
    /// nullptr with `error` set when the files do not load (path and GnuTLS's reason).
    static std::shared_ptr<const tls_credentials> load(const std::string& certfile, const std::string& keyfile,
                                                       const resumption& r, std::string& error);
    ~tls_credentials();
    tls_credentials(const tls_credentials&) = delete;
    tls_credentials& operator=(const tls_credentials&) = delete;

    /// A server session for one connection (TLS 1.3 only, ALPN "h3" required), bound to
    /// the connection through `ref`; nullptr when GnuTLS refuses (out of memory).
    gnutls_session_t new_server_session(ngtcp2_crypto_conn_ref* ref) const noexcept;

  private:
    tls_credentials();
    gnutls_certificate_credentials_t _cred = nullptr;
    /// Parsed once: a session given its own copy of the string (gnutls_priority_set_direct)
    /// parsed it again and held ~8 KB more for its whole handshake (issue 40).
    gnutls_priority_t _priority = nullptr;
    std::array<uint8_t, 64> _ticket_key{}; ///< GnuTLS's master ticket key (TLS 1.3 wants 64 bytes)
    std::unique_ptr<replay_guard> _replay; ///< shared by these credentials' sessions (any reactor); null: no 0-RTT
};

/// Sends the session's ticket (once its handshake completed): the client may resume with it.
/// false when GnuTLS refuses (the connection goes on without one).
bool send_session_ticket(gnutls_session_t s) noexcept;
/// What the finished handshake did: resumed a session; took early data.
bool session_resumed(gnutls_session_t s) noexcept;
bool early_data_accepted(gnutls_session_t s) noexcept;

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
