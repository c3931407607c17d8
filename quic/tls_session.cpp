// GnuTLS credentials and per-connection server sessions for QUIC (see tls_session.hpp).
#include "quic/tls_session.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <span>
#include <string_view>

namespace ringbolt::quic {

namespace {

// TLS 1.3 only (QUIC needs it, RFC 9001 §4.2), without the middlebox compatibility mode
// QUIC forbids (§8.4), with the AEADs QUIC defines.
constexpr const char* priority = "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:"
                                 "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:"
                                 "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1";

/// The test clock's file (use_test_clock_from_environment); empty: the system's clock.
std::string& test_clock_file() {
    static std::string path;
    return path;
}

/// The test clock's lead over the system's, in seconds: the file's number (0 if unreadable).
time_t test_clock_offset() noexcept {
    FILE* f = std::fopen(test_clock_file().c_str(), "r");
    if (f == nullptr) {
        return 0;
    }
    long long s = 0;
    if (std::fscanf(f, "%lld", &s) != 1) {
        s = 0;
    }
    std::fclose(f);
    return static_cast<time_t>(s);
}

time_t test_time(time_t* t) {
    time_t now = std::time(nullptr) + test_clock_offset();
    if (t != nullptr) {
        *t = now;
    }
    return now;
}

void test_gettime(timespec* ts) {
    ::clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += test_clock_offset();
}

/// The time GnuTLS sees (seconds): the anti-replay store's clock, as GnuTLS's expiries are.
[[maybe_unused]] time_t tls_now() noexcept {
    return test_clock_file().empty() ? std::time(nullptr) : test_time(nullptr);
}

/// The 64-byte master ticket key from the workers' secret and the reload count: HMAC-SHA256
/// of a label, the count and the block's number, twice. All-zero secret: random.
bool derive_ticket_key(const resumption& r, std::array<uint8_t, 64>& key) noexcept {
    if (std::all_of(r.secret.begin(), r.secret.end(), [](uint8_t b) { return b == 0; })) {
        gnutls_datum_t k{};
        if (gnutls_session_ticket_key_generate(&k) != 0 || k.size != key.size()) {
            gnutls_free(k.data);
            return false;
        }
        std::memcpy(key.data(), k.data, key.size());
        gnutls_memset(k.data, 0, k.size);
        gnutls_free(k.data);
        return true;
    }
    constexpr std::string_view label = "ringbolt QUIC session tickets";
    for (uint8_t block = 0; block < 2; ++block) {
        // HMAC-SHA256(secret, label | generation | block): two 32-byte halves.
        uint8_t text[label.size() + sizeof r.generation + 1];
        std::memcpy(text, label.data(), label.size());
        std::memcpy(text + label.size(), &r.generation, sizeof r.generation);
        text[sizeof text - 1] = block;
        if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, r.secret.data(), r.secret.size(), text, sizeof text,
                             key.data() + 32 * block) != 0) {
            return false;
        }
    }
    return true;
}

} // namespace

std::string use_test_clock_from_environment() noexcept {
    const char* path = std::getenv("RINGBOLT_TEST_TLS_CLOCK_FILE");
    if (path == nullptr || *path == '\0' || !test_clock_file().empty()) {
        return {};
    }
    // GnuTLS's clock of whole seconds is public; its struct timespec clock (ticket ages,
    // the anti-replay window) is set by a function it exports for its own tests: looked
    // up here, so the library is linked as usual and this costs nothing unless asked.
    using gettime_setter = void (*)(void (*)(timespec*));
    auto set_gettime = reinterpret_cast<gettime_setter>(::dlsym(RTLD_DEFAULT, "_gnutls_global_set_gettime_function"));
    if (set_gettime == nullptr) {
        return "RINGBOLT_TEST_TLS_CLOCK_FILE: this GnuTLS has no _gnutls_global_set_gettime_function";
    }
    test_clock_file() = path;
    gnutls_global_set_time_function(test_time);
    set_gettime(test_gettime);
    return {};
}

/// GnuTLS's anti-replay check (RFC 8446 §8) over the shared replay_store: a ClientHello's
/// early data is taken once, and only within the window (ticket_lifetime_s).
class replay_guard {
  public:
    explicit replay_guard(std::shared_ptr<replay_store> store) : _store(std::move(store)) {
        if (_store != nullptr && gnutls_anti_replay_init(&_ar) == 0) {
            gnutls_anti_replay_set_window(_ar, ticket_lifetime_s * 1000);
            gnutls_anti_replay_set_add_function(_ar, add);
            gnutls_anti_replay_set_ptr(_ar, this);
        }
    }
    ~replay_guard() {
        if (_ar != nullptr) {
            gnutls_anti_replay_deinit(_ar);
        }
    }
    replay_guard(const replay_guard&) = delete;
    replay_guard& operator=(const replay_guard&) = delete;

    gnutls_anti_replay_t get() const noexcept { return _ar; }

  private:
    /// GNUTLS_E_DB_ENTRY_EXISTS (early data refused) for a ClientHello seen before, or when
    /// the store has no room for it.
    static int add(void* self, time_t expires, const gnutls_datum_t* key, const gnutls_datum_t*) {
        // GnuTLS 3.7's key: the start of its current window (12 bytes), then the PSK
        // binder. The binder alone is the hello's: every worker (each with a window of its
        // own start) must find the same key for it.
        constexpr size_t window_start = 12;
        std::span<const uint8_t> k(key->data, key->size);
        if (k.size() > window_start) {
            k = k.subspan(window_start);
        }
#ifdef RINGBOLT_TEST_NO_ANTI_REPLAY
        // A build for one test only (docs/http3.md, "Tests"): every hello is taken, so that
        // the replay tests can be seen to fail without the check.
        (void)self;
        (void)expires;
        (void)k;
        return 0;
#else
        auto v = static_cast<replay_guard*>(self)->_store->remember(k, expires, tls_now());
        return v == replay_store::verdict::fresh ? 0 : GNUTLS_E_DB_ENTRY_EXISTS;
#endif
    }

    std::shared_ptr<replay_store> _store;
    gnutls_anti_replay_t _ar = nullptr;
};

tls_credentials::tls_credentials() = default;

std::shared_ptr<const tls_credentials> tls_credentials::load(const std::string& certfile, const std::string& keyfile,
                                                             const resumption& r, std::string& error) {
    // GnuTLS initializes itself as it loads (the extension loads it when HTTP/3 starts,
    // pymod/native/h3_libraries.hpp), unless GNUTLS_NO_IMPLICIT_INIT is set: initialized
    // here too, before its first use. Reference-counted, so a second call costs nothing.
    static const int global_init = gnutls_global_init();
    if (global_init != 0) {
        error = std::string("QUIC TLS: ") + gnutls_strerror(global_init);
        return nullptr;
    }
    std::shared_ptr<tls_credentials> c(new tls_credentials());
    if (!derive_ticket_key(r, c->_ticket_key)) {
        error = "QUIC TLS: cannot make a session ticket key";
        return nullptr;
    }
    if (std::string e = use_test_clock_from_environment(); !e.empty()) {
        error = e;
        return nullptr;
    }
    if (r.early_data) {
        std::shared_ptr<replay_store> store = r.replay;
        if (store == nullptr) {
            store = replay_store::make_private(error); // (a server of its own, the tests')
            if (store == nullptr) {
                return nullptr;
            }
        }
        c->_replay = std::make_unique<replay_guard>(std::move(store));
        if (c->_replay->get() == nullptr) {
            error = "QUIC TLS: cannot set up anti-replay for early data";
            return nullptr;
        }
    }
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
    gnutls_memset(_ticket_key.data(), 0, _ticket_key.size());
    if (_priority != nullptr) {
        gnutls_priority_deinit(_priority);
    }
    if (_cred != nullptr) {
        gnutls_certificate_free_credentials(_cred);
    }
}

gnutls_session_t tls_credentials::new_server_session(ngtcp2_crypto_conn_ref* ref) const noexcept {
    gnutls_session_t s = nullptr;
    // The ticket goes out when the handshake completes (send_session_ticket), not inside it.
    unsigned flags = GNUTLS_SERVER | GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_NO_AUTO_SEND_TICKET;
    if (_replay) {
        flags |= GNUTLS_ENABLE_EARLY_DATA;
    }
    if (gnutls_init(&s, flags) != 0) {
        return nullptr;
    }
    gnutls_datum_t ticket_key{const_cast<uint8_t*>(_ticket_key.data()), static_cast<unsigned>(_ticket_key.size())};
    if (gnutls_session_ticket_enable_server(s, &ticket_key) != 0) {
        gnutls_deinit(s);
        return nullptr;
    }
    gnutls_db_set_cache_expiration(s, ticket_lifetime_s); // the tickets' lifetime
    if (_replay) {
        gnutls_anti_replay_enable(s, _replay->get());
        // QUIC carries early data in 0-RTT packets, not TLS records: the limit must be
        // 0xffffffff in the ticket (RFC 9001 §4.6.1), flow control bounds it.
        gnutls_record_set_max_early_data_size(s, 0xffffffffu);
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

bool send_session_ticket(gnutls_session_t s) noexcept {
    return gnutls_session_ticket_send(s, 1, 0) == 0;
}

bool session_resumed(gnutls_session_t s) noexcept {
    return gnutls_session_is_resumed(s) != 0;
}

bool early_data_accepted(gnutls_session_t s) noexcept {
    return (gnutls_session_get_flags(s) & GNUTLS_SFLAGS_EARLY_DATA) != 0;
}

} // namespace ringbolt::quic
