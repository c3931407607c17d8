// Building the OpenSSL server contexts, SNI and ALPN selection, the kTLS probe.
#include "tls/context.hpp"

#include "core/clock.hpp"
#include "core/log.hpp"
#include "tls/connection_info.hpp"
#include "tls/transport.hpp"
#include "uring/ktls_calls.hpp"
#include "uring/listener.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <linux/tls.h>
#include <mutex>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <span>
#include <unistd.h>

namespace ringbolt::tls {

namespace {

constexpr unsigned char session_id_context[] = "ringbolt";

std::string openssl_reason() {
    unsigned long e = ERR_peek_last_error();
    std::string out;
    if (e != 0) {
        const char* r = ERR_reason_error_string(e);
        out = r != nullptr ? r : "unknown OpenSSL error";
    }
    ERR_clear_error();
    return out;
}

// ALPN: the first id of the server's offer (its preference order: the protocol registry's)
// that the client also offers.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void* arg) {
    const auto* ctx = static_cast<const context*>(arg);
    std::string_view ours = ctx->alpn_wire();
    unsigned char* chosen = nullptr;
    if (!ours.empty() &&
        SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(ours.data()),
                              static_cast<unsigned int>(ours.size()), in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = chosen;
        return SSL_TLSEXT_ERR_OK;
    }
    // Nothing we speak was offered. An HTTP/2-only server refuses (RFC 7301 §3.2: the
    // no_application_protocol alert), as Granian's --http 2 does; otherwise go on without
    // ALPN (say only h2 was offered to an HTTP/1.1 server): HTTP/1.1 follows.
    return ctx->alpn_required() ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
}

// SNI: switch the connection to the certificate for the name; an unknown name keeps
// the default certificate (as a default server does), and is counted.
int select_sni(SSL* ssl, int*, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) {
        return SSL_TLSEXT_ERR_OK;
    }
    const auto* ctx = static_cast<const context*>(arg);
    if (SSL_CTX* c = ctx->for_name(name)) {
        SSL_set_SSL_CTX(ssl, c);
    } else if (auto* t = static_cast<tls_transport*>(SSL_get_app_data(ssl))) {
        t->set_sni_unknown();
    }
    return SSL_TLSEXT_ERR_OK;
}

bool file_mentions(const std::string& path, std::string_view word) {
    std::string text;
    if (FILE* f = std::fopen(path.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0 && text.size() < (1u << 20)) {
            text.append(buf, n);
        }
        std::fclose(f);
    }
    return text.find(word) != std::string::npos;
}

SSL_CTX* make_ctx(const context& owner, const options& o, const std::string& certfile, const std::string& keyfile,
                  std::string& error) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
        error = "TLS: cannot create a context: " + openssl_reason();
        return nullptr;
    }
    auto give_up = [&](std::string why) {
        error = std::move(why);
        SSL_CTX_free(ctx);
        return nullptr;
    };
    SSL_CTX_set_min_proto_version(ctx, o.min_version);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    if (owner.ktls()) {
        // OpenSSL's own kTLS: where the cipher allows, it gives the sending keys to the
        // write BIO once the handshake's are done (tls/transport.cpp: the kernel's).
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
        // Each connection's first application traffic secrets (the key log lines),
        // kept for the KeyUpdates kTLS must follow (tls/ktls_keys.hpp).
        SSL_CTX_set_keylog_callback(ctx, tls_transport::on_keylog);
    }
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof(session_id_context) - 1);
    // An idle keep-alive connection keeps no 16 KiB read/write buffers (as nginx does).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, const_cast<context*>(&owner));
    if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, o.ciphers.c_str()) != 1) {
        return give_up("--ssl-ciphers '" + o.ciphers + "': no cipher matched (" + openssl_reason() + ")");
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, certfile.c_str()) != 1) {
        return give_up("--ssl-certfile " + certfile + ": cannot load a PEM certificate (" + openssl_reason() + ")");
    }
    // The password serves the load only.
    SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<char*>(o.password.c_str()));
    int loaded = SSL_CTX_use_PrivateKey_file(ctx, keyfile.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    if (loaded != 1) {
        std::string why = openssl_reason();
        if (file_mentions(keyfile, "ENCRYPTED")) {
            return give_up("--ssl-keyfile " + keyfile + ": wrong or missing --ssl-keyfile-password (" + why + ")");
        }
        if (why.find("key values mismatch") != std::string::npos) {
            return give_up("--ssl-keyfile " + keyfile + " does not match the certificate in " + certfile);
        }
        return give_up("--ssl-keyfile " + keyfile + ": cannot load a PEM private key (" + why + ")");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        return give_up("--ssl-keyfile " + keyfile + " does not match the certificate in " + certfile + " (" +
                       openssl_reason() + ")");
    }
    if (o.cert_reqs != client_certs::none) {
        if (SSL_CTX_load_verify_locations(ctx, o.ca_certs.c_str(), nullptr) != 1) {
            return give_up("--ssl-ca-certs " + o.ca_certs + ": cannot load PEM CA certificates (" + openssl_reason() +
                           ")");
        }
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_certs.c_str())) {
            SSL_CTX_set_client_CA_list(ctx, names); // the CAs the server names in its request
        }
        int mode = SSL_VERIFY_PEER;
        if (o.cert_reqs == client_certs::required) {
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        }
        SSL_CTX_set_verify(ctx, mode, nullptr);
    }
    ERR_clear_error();
    return ctx;
}

bool file_readable(const std::string& path) {
    return ::access(path.c_str(), R_OK) == 0;
}

} // namespace

int parse_min_version(std::string_view text) noexcept {
    if (text == "1.2" || text == "TLSv1.2" || text == "TLSv1_2") {
        return TLS1_2_VERSION;
    }
    if (text == "1.3" || text == "TLSv1.3" || text == "TLSv1_3") {
        return TLS1_3_VERSION;
    }
    return 0;
}

std::shared_ptr<const context> context::build(const options& o, std::string& error) {
    if (o.certfile.empty() || o.keyfile.empty()) {
        error = "TLS needs both --ssl-certfile and --ssl-keyfile";
        return nullptr;
    }
    for (const auto& [flag, path] : {std::pair<const char*, const std::string*>{"--ssl-certfile", &o.certfile},
                                     {"--ssl-keyfile", &o.keyfile},
                                     {"--ssl-ca-certs", &o.ca_certs}}) {
        if (!path->empty() && !file_readable(*path)) {
            error = std::string(flag) + " " + *path + ": " + std::strerror(errno);
            return nullptr;
        }
    }
    if (o.cert_reqs != client_certs::none && o.ca_certs.empty()) {
        error = "--ssl-cert-reqs optional/required needs --ssl-ca-certs (the CAs client certificates are checked "
                "against)";
        return nullptr;
    }
    if (o.min_version != TLS1_2_VERSION && o.min_version != TLS1_3_VERSION) {
        error = "--ssl-min-version must be TLSv1.2 or TLSv1.3";
        return nullptr;
    }
    if (o.handshake_timeout_s == 0) {
        error = "the TLS handshake timeout must be at least 1 second";
        return nullptr;
    }
    std::shared_ptr<context> c(new context());
    c->_handshake_timeout_s = o.handshake_timeout_s;
    for (const std::string& id : o.alpn.ids) {
        if (id.empty() || id.size() > 255) {
            error = "TLS: an ALPN protocol id must be 1 to 255 bytes long ('" + id + "')";
            return nullptr;
        }
        c->_alpn_wire += static_cast<char>(id.size());
        c->_alpn_wire += id;
    }
    c->_alpn_required = o.alpn.required;
    c->_ktls = o.ktls && ktls_unavailable_reason().empty();
    c->_default = make_ctx(*c, o, o.certfile, o.keyfile, error);
    if (c->_default == nullptr) {
        return nullptr;
    }
    c->add_server_pem(c->_default);
    for (const sni_entry& e : o.sni) {
        for (const std::string* path : {&e.certfile, &e.keyfile}) {
            if (!file_readable(*path)) {
                error = "--ssl-sni " + e.name + ": " + *path + ": " + std::strerror(errno);
                return nullptr;
            }
        }
        SSL_CTX* ctx = make_ctx(*c, o, e.certfile, e.keyfile, error);
        if (ctx == nullptr) {
            error = "--ssl-sni " + e.name + ": " + error;
            return nullptr;
        }
        std::string name = e.name;
        for (char& ch : name) {
            ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        c->_by_name.emplace_back(std::move(name), ctx);
        c->add_server_pem(ctx);
    }
    // The name callback lives on the context a connection starts from.
    SSL_CTX_set_tlsext_servername_callback(c->_default, select_sni);
    SSL_CTX_set_tlsext_servername_arg(c->_default, c.get());
    return c;
}

context::~context() {
    for (auto& [name, ctx] : _by_name) {
        SSL_CTX_free(ctx);
    }
    SSL_CTX_free(_default);
}

void context::add_server_pem(SSL_CTX* ctx) {
    std::string pem = pem_of(SSL_CTX_get0_certificate(ctx));
    _server_pems.emplace_back(ctx, pem.empty() ? nullptr : std::make_shared<const std::string>(std::move(pem)));
}

std::shared_ptr<const std::string> context::server_cert_pem(SSL_CTX* ctx) const noexcept {
    for (const auto& [c, pem] : _server_pems) {
        if (c == ctx) {
            return pem;
        }
    }
    return nullptr;
}

SSL_CTX* context::for_name(std::string_view name) const noexcept {
    if (_by_name.empty() || name.size() > 255) {
        return nullptr;
    }
    char lower[256];
    for (size_t i = 0; i < name.size(); ++i) {
        char ch = name[i];
        lower[i] = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    std::string_view n(lower, name.size());
    for (const auto& [pattern, ctx] : _by_name) {
        if (pattern == n) {
            return ctx;
        }
    }
    // "*.example.com" matches exactly one label in front of example.com.
    size_t dot = n.find('.');
    if (dot != std::string_view::npos && dot > 0) {
        std::string_view rest = n.substr(dot);
        for (const auto& [pattern, ctx] : _by_name) {
            if (pattern.size() == rest.size() + 1 && pattern[0] == '*' && std::string_view(pattern).substr(1) == rest) {
                return ctx;
            }
        }
    }
    return nullptr;
}

namespace {

struct ktls_cipher {
    uint16_t type; ///< TLS_CIPHER_*
    size_t keys_size;
    const char* name;
};
constexpr ktls_cipher ktls_ciphers_known[] = {
    {TLS_CIPHER_AES_GCM_128, sizeof(tls12_crypto_info_aes_gcm_128), "AES-128-GCM"},
    {TLS_CIPHER_AES_GCM_256, sizeof(tls12_crypto_info_aes_gcm_256), "AES-256-GCM"},
    {TLS_CIPHER_CHACHA20_POLY1305, sizeof(tls12_crypto_info_chacha20_poly1305), "ChaCha20-Poly1305"},
    {TLS_CIPHER_AES_CCM_128, sizeof(tls12_crypto_info_aes_ccm_128), "AES-128-CCM"},
};

struct ktls_probe {
    std::string why;          ///< empty: the kernel takes at least one cipher
    std::vector<uint16_t> ok; ///< the ciphers it took
    std::vector<std::string> names;
    bool new_keys = false; ///< a socket with sending keys takes new ones (TLS 1.3 KeyUpdate)
};

// The probe's socket calls: the system's, or a test's (set_ktls_probe_calls) given before
// the probe ran.
std::mutex g_probe_mutex;
uring::ktls_calls* g_probe_calls = nullptr;
bool g_probe_ran = false;

uring::ktls_calls& probe_calls() {
    static uring::ktls_calls system_calls;
    std::lock_guard<std::mutex> lock(g_probe_mutex);
    g_probe_ran = true;
    return g_probe_calls != nullptr ? *g_probe_calls : system_calls;
}

// Once per process: the kernel's TLS layer on a loopback connection, then each cipher's
// sending keys (zeros) on a connection of its own (a socket takes keys once). A kernel
// with the layer but not a cipher's crypto (a module missing) keeps that cipher in user
// space rather than failing its connections.
const ktls_probe& probe_ktls() {
    static const ktls_probe probe = [] {
        ktls_probe p;
        uring::ktls_calls& calls = probe_calls();
        for (const ktls_cipher& c : ktls_ciphers_known) {
            uring::loopback_connection lp;
            if (lp.accepted() < 0) {
                p.why = std::string("the probe's loopback connection failed: ") + std::strerror(lp.error());
                break;
            }
            if (int err = -calls.attach_tls(lp.accepted()); err != 0) {
                p.why = err == ENOENT ? "the kernel has no TLS upper layer protocol (CONFIG_TLS is off or the tls "
                                        "module cannot be loaded)"
                                      : std::string("setsockopt(TCP_ULP, \"tls\") failed: ") + std::strerror(err);
                break;
            }
            unsigned char keys[64] = {};
            tls_crypto_info head{};
            head.version = TLS_1_3_VERSION;
            head.cipher_type = c.type;
            std::memcpy(keys, &head, sizeof(head));
            std::span<const unsigned char> cipher_keys{keys, c.keys_size};
            if (calls.set_tls_keys(lp.accepted(), uring::tls_direction::send, cipher_keys) == 0) {
                p.ok.push_back(c.type);
                p.names.emplace_back(c.name);
                // The kernels that take a KeyUpdate's keys take them the same way, on a
                // socket that has some; the others refuse (EBUSY).
                p.new_keys =
                    p.new_keys || calls.set_tls_keys(lp.accepted(), uring::tls_direction::send, cipher_keys) == 0;
            }
        }
        if (p.why.empty() && p.ok.empty()) {
            p.why = "the kernel's TLS layer takes none of AES-GCM, ChaCha20-Poly1305 and AES-CCM (their crypto "
                    "modules are missing)";
        }
        return p;
    }();
    return probe;
}

} // namespace

bool set_ktls_probe_calls(uring::ktls_calls& calls) noexcept {
    std::lock_guard<std::mutex> lock(g_probe_mutex);
    if (g_probe_ran) {
        return false;
    }
    g_probe_calls = &calls;
    return true;
}

const std::string& ktls_unavailable_reason() {
    return probe_ktls().why;
}

const std::vector<std::string>& ktls_cipher_names() {
    return probe_ktls().names;
}

bool ktls_takes_new_keys() noexcept {
    return probe_ktls().new_keys;
}

size_t ktls_keys_size(uint16_t cipher_type) noexcept {
    const ktls_probe& p = probe_ktls();
    for (const ktls_cipher& c : ktls_ciphers_known) {
        if (c.type == cipher_type) {
            return std::find(p.ok.begin(), p.ok.end(), cipher_type) != p.ok.end() ? c.keys_size : 0;
        }
    }
    return 0;
}

void reporter::report(kind k, const char* what, const char* detail) noexcept {
    uint64_t held_back = 0;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (!_throttles[k].admit(core::monotonic_seconds(), held_back)) {
            return;
        }
    }
    if (held_back == 0) {
        core::log(core::log_level::warning, "TLS: %s: %s; connection closed", what, detail);
    } else {
        core::log(core::log_level::warning, "TLS: %s: %s; connection closed (%llu more like it since the last report)",
                  what, detail, static_cast<unsigned long long>(held_back));
    }
}

std::unique_ptr<transport::transport> factory::make(core::core_counters& counters, uint32_t now_s) noexcept {
    std::shared_ptr<const context> ctx = current();
    auto t = std::make_unique<tls_transport>(std::move(ctx), counters, &_reporter, now_s);
    if (!t->ok()) {
        return nullptr;
    }
    return t;
}

void factory::replace(std::shared_ptr<const context> ctx) noexcept {
    std::lock_guard<std::mutex> lock(_mutex);
    _ctx = std::move(ctx);
}

std::shared_ptr<const context> factory::current() const noexcept {
    std::lock_guard<std::mutex> lock(_mutex);
    return _ctx;
}

} // namespace ringbolt::tls
