// The ASGI http scope of one request, built in one pass: a copy of the server's base dict
// (type, asgi, scheme, server, root_path...) plus the request's own keys, interned once.
#include "pymod/native/asgi/asgi_scope.hpp"

#include "core/strings.hpp"
#include "http/parser.hpp"
#include "pymod/native/bridge/proxy_info_py.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/tls/tls_info_py.hpp"

#include <arpa/inet.h>
#include <string_view>
#include <utility>

namespace ringbolt::py {

namespace {

PyObject* bytes_of(std::string_view s) {
    return PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
}

PyObject* asgi_headers(const dispatch::app_request& r) {
    return header_tuples(r, [&r](std::string_view name, std::string_view value) -> std::pair<PyObject*, PyObject*> {
        PyObject* k = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(name.size()));
        if (k == nullptr) {
            return {nullptr, nullptr};
        }
        char* out = PyBytes_AS_STRING(k);
        for (size_t j = 0; j < name.size(); ++j) {
            out[j] = core::ascii_lower(name[j]);
        }
        if (r.forwarded_host.len != 0 && core::iequals(name, "host")) {
            value = r.forwarded_host.in(r.data); // what a trusted proxy says the client asked for
        }
        return {k, bytes_of(value)};
    });
}

// A connection's facts as an extension: scope["extensions"] becomes a copy of the base's
// (shared by every request) with `name` added (stealing `value`): "tls", asgiref's TLS
// extension; "proxy_protocol", what a load balancer's PROXY header said.
bool add_asgi_extension(PyObject* d, const char* name, PyObject* value) {
    PyObject* base = PyDict_GetItemString(d, "extensions"); // borrowed
    PyObject* ext = base != nullptr && PyDict_Check(base) ? PyDict_Copy(base) : PyDict_New();
    if (ext == nullptr) {
        Py_XDECREF(value);
        return false;
    }
    bool ok = set_item(ext, name, value);
    return ok ? set_item(d, "extensions", ext) : (Py_DECREF(ext), false);
}

// The per-request dict starts as a copy of the server's base dict.
PyObject* copy_base(PyObject* base, const char* what) {
    if (!PyDict_Check(base)) {
        PyErr_Format(PyExc_TypeError, "%s takes a dict", what);
        return nullptr;
    }
    return PyDict_Copy(base);
}

/// ASGI's client host: the peer's address as text.
PyObject* peer_text(const http::peer_address& peer) {
    char buf[INET6_ADDRSTRLEN];
    return latin1_text(print_peer(peer, buf));
}

/// ASGI's `client`: (host, port), or None when the peer is unknown.
PyObject* client_pair(const http::peer_address& peer) {
    if (peer.family == 0) {
        Py_RETURN_NONE;
    }
    PyObject* host = peer_text(peer);
    PyObject* port = host != nullptr ? PyLong_FromLong(peer.port) : nullptr;
    PyObject* pair = port != nullptr ? PyTuple_Pack(2, host, port) : nullptr;
    Py_XDECREF(host);
    Py_XDECREF(port);
    return pair;
}

// The keys are interned once: PyDict_SetItemString makes and interns each key again per
// request; so are http_version's values.
struct asgi_names {
    PyObject* method = PyUnicode_InternFromString("method");
    PyObject* http_version = PyUnicode_InternFromString("http_version");
    PyObject* path = PyUnicode_InternFromString("path");
    PyObject* raw_path = PyUnicode_InternFromString("raw_path");
    PyObject* query_string = PyUnicode_InternFromString("query_string");
    PyObject* headers = PyUnicode_InternFromString("headers");
    PyObject* client = PyUnicode_InternFromString("client");
    PyObject* scheme = PyUnicode_InternFromString("scheme");
    PyObject* https = PyUnicode_InternFromString("https");
    PyObject* versions[4] = {PyUnicode_InternFromString("1.0"), PyUnicode_InternFromString("1.1"),
                             PyUnicode_InternFromString("2"), PyUnicode_InternFromString("3")};
    bool ok() const {
        return method && http_version && path && raw_path && query_string && headers && client && scheme && https &&
               versions[0] && versions[1] && versions[2] && versions[3];
    }
};

} // namespace

PyObject* asgi_scope_of(const dispatch::app_request& r, PyObject* base, PyObject* method, PyObject* path) {
    static const asgi_names names; // first call holds the GIL; never freed (module lifetime)
    if (!names.ok()) {
        PyErr_SetString(PyExc_MemoryError, "interning the ASGI scope's keys failed");
        return nullptr;
    }
    PyObject* d = copy_base(base, "_asgi_scope");
    if (d == nullptr) {
        return nullptr;
    }
    std::string_view raw_path = r.path.in(r.data);
    PyObject* version = names.versions[r.version_minor == 0                     ? 0
                                       : r.version_minor == http::version_http2 ? 2
                                       : r.version_minor == http::version_http3 ? 3
                                                                                : 1];
    bool ok = PyDict_SetItem(d, names.method, method) == 0 && PyDict_SetItem(d, names.http_version, version) == 0 &&
              PyDict_SetItem(d, names.path, path) == 0 && set_key(d, names.raw_path, bytes_of(raw_path)) &&
              set_key(d, names.query_string, bytes_of(r.query.in(r.data))) &&
              set_key(d, names.headers, asgi_headers(r)) && set_key(d, names.client, client_pair(r.peer));
    if (ok && r.https) {
        ok = PyDict_SetItem(d, names.scheme, names.https) == 0;
    }
    if (ok && r.tls) [[unlikely]] {
        ok = add_asgi_extension(d, "tls", asgi_tls_extension(*r.tls));
    }
    if (ok && r.proxy) [[unlikely]] {
        ok = add_asgi_extension(d, "proxy_protocol", proxy_info_dict(*r.proxy));
    }
    if (!ok) {
        Py_DECREF(d);
        return nullptr;
    }
    return d;
}

} // namespace ringbolt::py
