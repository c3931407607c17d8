// TLS options from Python (see tls_py.hpp).
#include "pymod/native/tls/tls_py.hpp"

#include "core/log.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace ringbolt::tls_py {

namespace {

using py::checked;
using py::option_of;
using py::ref;
using py::value_error;

bool has(PyObject* c, const char* key) {
    return option_of(c, key) != nullptr;
}

std::string get_str(PyObject* c, const char* key) {
    PyObject* v = option_of(c, key);
    std::string out;
    if (v == nullptr) {
        return out;
    }
    if (PyBytes_Check(v) || PyUnicode_Check(v)) {
        py::reader().read(v, out);
        return out;
    }
    ref path(checked(PyOS_FSPath(v))); // os.PathLike (pathlib.Path)
    ref text(checked(PyObject_Str(path.get())));
    py::reader().read(text.get(), out);
    return out;
}

tls::client_certs parse_cert_reqs(PyObject* v) {
    if (PyLong_Check(v)) {
        long n = PyLong_AsLong(v); // ssl.CERT_NONE / CERT_OPTIONAL / CERT_REQUIRED (uvicorn's int)
        PyErr_Clear();
        if (n >= 0 && n <= 2) {
            return static_cast<tls::client_certs>(n);
        }
    } else if (PyUnicode_Check(v)) {
        std::string s;
        py::reader().read(v, s);
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
    value_error("ssl_cert_reqs must be 0/none, 1/optional or 2/required, not " + py::repr_of(v));
}

} // namespace

bool configured(PyObject* c) {
    return has(c, "ssl_certfile") || has(c, "ssl_keyfile");
}

tls::options read_options(PyObject* c) {
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
        o.cert_reqs = parse_cert_reqs(option_of(c, "ssl_cert_reqs"));
    }
    if (has(c, "ssl_min_version")) {
        std::string v = get_str(c, "ssl_min_version");
        o.min_version = tls::parse_min_version(v);
        if (o.min_version == 0) {
            value_error("ssl_min_version must be TLSv1.2 or TLSv1.3, not '" + v + "'");
        }
    }
    if (has(c, "ssl_ktls")) {
        o.ktls = py::get_opt<bool>(c, "ssl_ktls", true);
    }
    if (has(c, "ssl_handshake_timeout")) {
        double t = py::get_opt<double>(c, "ssl_handshake_timeout", 0);
        if (!(t >= 1 && t <= 3600)) {
            value_error("ssl_handshake_timeout must be 1..3600 seconds");
        }
        o.handshake_timeout_s = static_cast<uint32_t>(t);
    }
    if (has(c, "ssl_sni")) {
        auto entries = py::get_opt<std::vector<std::vector<std::string>>>(c, "ssl_sni", {});
        for (const auto& t : entries) {
            if (t.size() != 3 || t[0].empty()) {
                value_error("ssl_sni entries are (name, certfile, keyfile)");
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
        value_error(error);
    }
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) {
        const std::string& why = tls::ktls_unavailable_reason();
        if (why.empty() && ctx->ktls()) {
            std::string names;
            for (const std::string& n : tls::ktls_cipher_names()) {
                names += (names.empty() ? "" : ", ") + n;
            }
            // TLS 1.3's receiving goes to the kernel only where it follows a client's key
            // updates (tls/transport.cpp): a kernel that cannot would have to end the connection.
            log(core::log_level::info, "kTLS: the kernel encrypts what TLS connections send (%s)%s", names.c_str(),
                tls::ktls_takes_new_keys()
                    ? " and decrypts what they receive, TLS 1.3's with the new keys of key updates"
                    : " and decrypts what TLS 1.2 connections receive; TLS 1.3's receiving stays in user space, and "
                      "a client that asks for new server keys (a TLS 1.3 key update) is closed: this kernel takes no "
                      "new keys");
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
        value_error(error);
    }
    f.replace(std::move(ctx));
}

PyObject* tls_check(PyObject*, PyObject* c) {
    return py::guarded([&]() -> PyObject* {
        if (!PyDict_Check(c)) {
            py::type_error("tls_check(config) takes a dict");
        }
        if (!configured(c)) {
            if (has(c, "ssl_keyfile_password") || has(c, "ssl_ca_certs") || has(c, "ssl_cert_reqs") ||
                has(c, "ssl_ciphers") || has(c, "ssl_min_version") || has(c, "ssl_sni")) {
                value_error("TLS options need --ssl-certfile and --ssl-keyfile");
            }
            Py_RETURN_FALSE;
        }
        tls::options o = read_options(c);
        std::string error;
        if (!tls::context::build(o, error)) {
            value_error(error);
        }
        Py_RETURN_TRUE;
    });
}

PyObject* ktls_unavailable_reason(PyObject*, PyObject*) {
    return py::guarded([] { return py::str_of(tls::ktls_unavailable_reason()); });
}

PyObject* ktls_ciphers(PyObject*, PyObject*) {
    return py::guarded([] { return py::str_list(tls::ktls_cipher_names()); });
}

PyObject* ktls_key_updates(PyObject*, PyObject*) {
    return PyBool_FromLong(tls::ktls_takes_new_keys() ? 1 : 0);
}

} // namespace ringbolt::tls_py
