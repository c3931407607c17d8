// ringbolt._native.TLSInfo, the ASGI TLS extension and the WSGI SSL_* variables (see
// tls_info_py.hpp). Nothing here runs for plain TCP connections: callers check first.
#include "pymod/native/tls/tls_info_py.hpp"

#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/py_type.hpp"

#include <new>
#include <string>
#include <string_view>

namespace ringbolt::py {

namespace {

struct tls_info_object {
    PyObject_HEAD core::tls_ref info;
};

const core::tls_info& I(PyObject* self) {
    return *reinterpret_cast<tls_info_object*>(self)->info;
}

PyObject* server_cert(const core::tls_info& i) {
    if (!i.server_cert_pem) {
        Py_RETURN_NONE;
    }
    return utf8_text(*i.server_cert_pem);
}

PyObject* chain_list(const core::tls_info& i) {
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(i.client_chain_pem.size()));
    if (list == nullptr) {
        return nullptr;
    }
    for (size_t k = 0; k < i.client_chain_pem.size(); ++k) {
        PyObject* s = utf8_text(i.client_chain_pem[k]);
        if (s == nullptr) {
            Py_DECREF(list);
            return nullptr;
        }
        PyList_SET_ITEM(list, static_cast<Py_ssize_t>(k), s);
    }
    return list;
}

void dealloc(PyObject* self) {
    std::destroy_at(&reinterpret_cast<tls_info_object*>(self)->info);
    Py_TYPE(self)->tp_free(self);
}

PyObject* get_version(PyObject* self, void*) {
    return utf8_text(I(self).version_name);
}
PyObject* get_version_code(PyObject* self, void*) {
    return PyLong_FromLong(I(self).version);
}
PyObject* get_cipher(PyObject* self, void*) {
    return utf8_text(I(self).cipher_name);
}
PyObject* get_cipher_suite(PyObject* self, void*) {
    return PyLong_FromLong(I(self).cipher_suite);
}
PyObject* get_alpn(PyObject* self, void*) {
    return utf8_text_or_none(I(self).alpn);
}
PyObject* get_server_name(PyObject* self, void*) {
    return utf8_text_or_none(I(self).server_name);
}
PyObject* get_resumed(PyObject* self, void*) {
    return PyBool_FromLong(I(self).resumed ? 1 : 0);
}
PyObject* get_server_cert(PyObject* self, void*) {
    return server_cert(I(self));
}
PyObject* get_client_cert(PyObject* self, void*) {
    const auto& i = I(self);
    if (i.client_chain_pem.empty()) {
        Py_RETURN_NONE;
    }
    return utf8_text(i.client_chain_pem.front());
}
PyObject* get_client_cert_chain(PyObject* self, void*) {
    return chain_list(I(self));
}
PyObject* get_client_cert_name(PyObject* self, void*) {
    const auto& i = I(self);
    if (i.client_chain_pem.empty()) {
        Py_RETURN_NONE;
    }
    return utf8_text(i.client_subject); // "" for a certificate with an empty subject
}
PyObject* get_client_cert_issuer(PyObject* self, void*) {
    const auto& i = I(self);
    if (i.client_chain_pem.empty()) {
        Py_RETURN_NONE;
    }
    return utf8_text(i.client_issuer);
}
PyObject* get_client_cert_error(PyObject* self, void*) {
    return utf8_text_or_none(I(self).client_verify_error);
}

PyObject* repr(PyObject* self) {
    const auto& i = I(self);
    std::string s = "<TLSInfo " + i.version_name + " " + i.cipher_name;
    if (!i.alpn.empty()) {
        s += " alpn=" + i.alpn;
    }
    if (!i.client_chain_pem.empty()) {
        s += " client=" + i.client_subject;
    }
    s += ">";
    return utf8_text(s);
}

PyGetSetDef getset[] = {
    {"version", get_version, nullptr, "Protocol version as OpenSSL names it: 'TLSv1.2', 'TLSv1.3'.", nullptr},
    {"version_code", get_version_code, nullptr, "Protocol version number: 0x0303 (TLS 1.2), 0x0304 (TLS 1.3).",
     nullptr},
    {"cipher", get_cipher, nullptr, "Cipher suite as OpenSSL names it: 'TLS_AES_256_GCM_SHA384'.", nullptr},
    {"cipher_suite", get_cipher_suite, nullptr, "Cipher suite's IANA code: 0x1302 for TLS_AES_256_GCM_SHA384.",
     nullptr},
    {"alpn", get_alpn, nullptr, "The protocol ALPN chose ('h2', 'http/1.1'), or None.", nullptr},
    {"server_name", get_server_name, nullptr, "The SNI name the client asked for, or None.", nullptr},
    {"resumed", get_resumed, nullptr, "Whether the TLS session was resumed (no certificate exchange).", nullptr},
    {"server_cert", get_server_cert, nullptr, "The server's certificate (PEM str) this connection got.", nullptr},
    {"client_cert", get_client_cert, nullptr, "The client's certificate (PEM str), or None.", nullptr},
    {"client_cert_chain", get_client_cert_chain, nullptr,
     "The client's certificates as PEM str, leaf first ([] when none was sent).", nullptr},
    {"client_cert_name", get_client_cert_name, nullptr, "The client certificate's subject (RFC 4514 str), or None.",
     nullptr},
    {"client_cert_issuer", get_client_cert_issuer, nullptr, "The client certificate's issuer (RFC 4514 str), or None.",
     nullptr},
    {"client_cert_error", get_client_cert_error, nullptr,
     "Why the client certificate failed verification, or None (ringbolt refuses such handshakes).", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject tls_info_type = native_type({
    .name = "ringbolt._native.TLSInfo",
    .basicsize = sizeof(tls_info_object),
    .doc = "The TLS facts of a request's connection (req.tls): version, cipher, certificates.",
    .dealloc = dealloc,
    .repr = repr,
    .getset = getset,
});

} // namespace

int init_tls_info_type(PyObject* module) {
    return ready_native_type(tls_info_type, module, "TLSInfo") ? 0 : -1;
}

PyObject* new_tls_info(const core::tls_ref& info) {
    auto* o = PyObject_New(tls_info_object, &tls_info_type);
    if (o == nullptr) {
        return nullptr;
    }
    new (&o->info) core::tls_ref(info);
    return reinterpret_cast<PyObject*>(o);
}

PyObject* asgi_tls_extension(const core::tls_info& i) {
    PyObject* d = PyDict_New();
    if (d == nullptr) {
        return nullptr;
    }
    bool has_cert = !i.client_chain_pem.empty();
    PyObject* name = has_cert ? utf8_text(i.client_subject) : (Py_INCREF(Py_None), Py_None);
    bool ok = set_item(d, "server_cert", server_cert(i)) && set_item(d, "client_cert_chain", chain_list(i)) &&
              set_item(d, "client_cert_name", name) &&
              set_item(d, "client_cert_error", utf8_text_or_none(i.client_verify_error)) &&
              set_item(d, "tls_version", PyLong_FromLong(i.version)) &&
              set_item(d, "cipher_suite", PyLong_FromLong(i.cipher_suite));
    if (!ok) {
        Py_DECREF(d);
        return nullptr;
    }
    return d;
}

// mod_ssl's names (https://httpd.apache.org/docs/2.4/mod/mod_ssl.html#envvars), which
// WSGI middleware for client certificates reads (gunicorn sets none of them).
bool add_wsgi_tls_vars(PyObject* env, const core::tls_info& i) {
    bool has_cert = !i.client_chain_pem.empty();
    std::string verify = !has_cert                       ? "NONE"
                         : i.client_verify_error.empty() ? "SUCCESS"
                                                         : "FAILED:" + i.client_verify_error;
    // HTTPS=on is set with wsgi.url_scheme (the request's scheme, which a trusted proxy may
    // override); these describe the connection itself.
    bool ok = set_item(env, "SSL_PROTOCOL", utf8_text(i.version_name)) &&
              set_item(env, "SSL_CIPHER", utf8_text(i.cipher_name)) &&
              set_item(env, "SSL_SESSION_RESUMED", PyUnicode_FromString(i.resumed ? "Resumed" : "Initial")) &&
              set_item(env, "SSL_CLIENT_VERIFY", utf8_text(verify));
    if (ok && i.server_cert_pem) {
        ok = set_item(env, "SSL_SERVER_CERT", utf8_text(*i.server_cert_pem));
    }
    if (ok && !i.server_name.empty()) {
        ok = set_item(env, "SSL_TLS_SNI", utf8_text(i.server_name));
    }
    if (ok && has_cert) {
        ok = set_item(env, "SSL_CLIENT_CERT", utf8_text(i.client_chain_pem.front())) &&
             set_item(env, "SSL_CLIENT_S_DN", utf8_text(i.client_subject)) &&
             set_item(env, "SSL_CLIENT_I_DN", utf8_text(i.client_issuer));
        // SSL_CLIENT_CERT_CHAIN_n: the certificates after the leaf, from 0.
        for (size_t k = 1; ok && k < i.client_chain_pem.size(); ++k) {
            std::string key = "SSL_CLIENT_CERT_CHAIN_" + std::to_string(k - 1);
            ok = set_item(env, key.c_str(), utf8_text(i.client_chain_pem[k]));
        }
    }
    return ok;
}

} // namespace ringbolt::py
