// The PROXY header's dict (see proxy_info_py.hpp).
#include "pymod/native/bridge/proxy_info_py.hpp"

#include "pymod/native/bridge/request_object.hpp"

#include <cstring>
#include <string_view>

namespace ringbolt::py {

namespace {

/// (host, port), or None when the header named no address.
PyObject* address_pair(const core::endpoint_address& a) {
    if (a.family == 0) {
        Py_RETURN_NONE;
    }
    http::peer_address peer;
    peer.family = a.family;
    peer.port = a.port;
    std::memcpy(peer.addr, a.addr, sizeof(peer.addr));
    char buf[INET6_ADDRSTRLEN];
    return Py_BuildValue("(NH)", latin1_text(print_peer(peer, buf)), a.port);
}

PyObject* ssl_dict(const core::proxy_info& info) {
    if (!info.ssl) {
        Py_RETURN_NONE;
    }
    PyObject* d = PyDict_New();
    if (d == nullptr) {
        return nullptr;
    }
    bool ok = set_item(d, "version", utf8_text_or_none(info.ssl_version)) &&
              set_item(d, "cipher", utf8_text_or_none(info.ssl_cipher)) &&
              set_item(d, "cn", utf8_text_or_none(info.ssl_cn)) &&
              set_item(d, "verified", PyBool_FromLong(info.ssl_verified ? 1 : 0));
    return ok ? d : (Py_DECREF(d), nullptr);
}

} // namespace

PyObject* proxy_info_dict(const core::proxy_info& info) {
    PyObject* d = PyDict_New();
    if (d == nullptr) {
        return nullptr;
    }
    PyObject* unique_id =
        info.unique_id.empty()
            ? Py_NewRef(Py_None)
            : PyBytes_FromStringAndSize(info.unique_id.data(), static_cast<Py_ssize_t>(info.unique_id.size()));
    bool ok = set_item(d, "version", PyLong_FromLong(info.version)) &&
              set_item(d, "balancer", address_pair(info.balancer)) &&
              set_item(d, "destination", address_pair(info.destination)) &&
              set_item(d, "alpn", utf8_text_or_none(info.alpn)) &&
              set_item(d, "authority", utf8_text_or_none(info.authority)) && set_item(d, "unique_id", unique_id) &&
              set_item(d, "ssl", ssl_dict(info));
    return ok ? d : (Py_DECREF(d), nullptr);
}

} // namespace ringbolt::py
