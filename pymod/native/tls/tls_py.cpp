// TLS options from Python (see tls_py.hpp).
#include "pymod/native/tls/tls_py.hpp"

#include <pybind11/stl.h>

#include "core/log.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace pb = pybind11;

namespace ringbolt::tls_py {

namespace {

bool has(const pb::dict& c, const char* key) {
    return c.contains(key) && !c[key].is_none();
}

std::string get_str(const pb::dict& c, const char* key) {
    if (!has(c, key)) {
        return {};
    }
    pb::object v = c[key];
    if (pb::isinstance<pb::bytes>(v)) {
        return v.cast<std::string>();
    }
    if (!pb::isinstance<pb::str>(v)) {
        // os.PathLike (pathlib.Path)
        v = pb::module_::import("os").attr("fspath")(v);
    }
    return pb::str(v).cast<std::string>();
}

tls::client_certs parse_cert_reqs(const pb::object& v) {
    if (pb::isinstance<pb::int_>(v)) {
        int n = v.cast<int>(); // ssl.CERT_NONE / CERT_OPTIONAL / CERT_REQUIRED (uvicorn's int)
        if (n >= 0 && n <= 2) {
            return static_cast<tls::client_certs>(n);
        }
    } else if (pb::isinstance<pb::str>(v)) {
        std::string s = v.cast<std::string>();
        for (char& ch : s) {
            ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        if (s == "none" || s == "cert_none" || s == "0") {
            return tls::client_certs::none;
        }
        if (s == "optional" || s == "cert_optional" || s == "1") {
            return tls::client_certs::optional;
        }
        if (s == "required" || s == "cert_required" || s == "2") {
            return tls::client_certs::required;
        }
    }
    throw pb::value_error("ssl_cert_reqs must be 0/none, 1/optional or 2/required, not " +
                          pb::repr(v).cast<std::string>());
}

} // namespace

bool configured(const pb::dict& c) {
    return has(c, "ssl_certfile") || has(c, "ssl_keyfile");
}

tls::options read_options(const pb::dict& c) {
    tls::options o;
    o.certfile = get_str(c, "ssl_certfile");
    o.keyfile = get_str(c, "ssl_keyfile");
    o.password = get_str(c, "ssl_keyfile_password");
    o.ca_certs = get_str(c, "ssl_ca_certs");
    o.ciphers = get_str(c, "ssl_ciphers");
    if (o.ciphers == "TLSv1") {
        o.ciphers.clear(); // uvicorn's default value: OpenSSL's own list
    }
    if (has(c, "ssl_cert_reqs")) {
        o.cert_reqs = parse_cert_reqs(c["ssl_cert_reqs"]);
    }
    if (has(c, "ssl_min_version")) {
        std::string v = get_str(c, "ssl_min_version");
        o.min_version = tls::parse_min_version(v);
        if (o.min_version == 0) {
            throw pb::value_error("ssl_min_version must be TLSv1.2 or TLSv1.3, not '" + v + "'");
        }
    }
    if (has(c, "ssl_ktls")) {
        o.ktls = c["ssl_ktls"].cast<bool>();
    }
    if (has(c, "ssl_handshake_timeout")) {
        double t = c["ssl_handshake_timeout"].cast<double>();
        if (!(t >= 1 && t <= 3600)) {
            throw pb::value_error("ssl_handshake_timeout must be 1..3600 seconds");
        }
        o.handshake_timeout_s = static_cast<uint32_t>(t);
    }
    if (has(c, "ssl_sni")) {
        for (pb::handle item : c["ssl_sni"]) {
            auto t = item.cast<std::vector<std::string>>();
            if (t.size() != 3 || t[0].empty()) {
                throw pb::value_error("ssl_sni entries are (name, certfile, keyfile)");
            }
            o.sni.push_back({t[0], t[1], t[2]});
        }
    }
    return o;
}

std::shared_ptr<tls::factory> make_factory(const tls::options& opts) {
    std::string error;
    std::shared_ptr<const tls::context> ctx = tls::context::build(opts, error);
    if (!ctx) {
        throw pb::value_error(error);
    }
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) {
        const std::string& why = tls::ktls_unavailable_reason();
        if (why.empty() && ctx->ktls()) {
            std::string names;
            for (const std::string& n : tls::ktls_cipher_names()) {
                names += (names.empty() ? "" : ", ") + n;
            }
            log(core::log_level::info,
                "kTLS: the kernel encrypts what TLS connections send (%s); receiving stays in user space",
                names.c_str());
        } else if (why.empty()) {
            log(core::log_level::info, "kTLS off (--no-ssl-ktls): TLS records are encrypted in user space");
        } else {
            log(core::log_level::info, "kTLS unavailable (%s): TLS records are encrypted in user space", why.c_str());
        }
    }
    return std::make_shared<tls::factory>(std::move(ctx));
}

void reload(tls::factory& f, const tls::options& opts) {
    std::string error;
    std::shared_ptr<const tls::context> ctx = tls::context::build(opts, error);
    if (!ctx) {
        throw pb::value_error(error);
    }
    f.replace(std::move(ctx));
}

void init(pb::module_& m) {
    m.def(
        "tls_check",
        [](const pb::dict& c) {
            if (!configured(c)) {
                if (has(c, "ssl_keyfile_password") || has(c, "ssl_ca_certs") || has(c, "ssl_cert_reqs") ||
                    has(c, "ssl_ciphers") || has(c, "ssl_min_version") || has(c, "ssl_sni")) {
                    throw pb::value_error("TLS options need --ssl-certfile and --ssl-keyfile");
                }
                return false;
            }
            tls::options o = read_options(c);
            std::string error;
            if (!tls::context::build(o, error)) {
                throw pb::value_error(error);
            }
            return true;
        },
        "Check the ssl_* options (files, key, password) without serving; ValueError naming the problem.");
    m.def(
        "ktls_unavailable_reason", [] { return tls::ktls_unavailable_reason(); },
        "Why the kernel cannot take TLS records over (kTLS); empty when it can.");
    m.def(
        "ktls_ciphers", [] { return tls::ktls_cipher_names(); },
        "The ciphers whose sending keys the kernel takes (kTLS), as the probe found them.");
}

} // namespace ringbolt::tls_py
