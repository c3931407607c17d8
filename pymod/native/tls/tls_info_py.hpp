// The connection's TLS facts (http/tls_info.hpp) as Python sees them: the
// ringbolt._native.TLSInfo type behind `req.tls`, the ASGI TLS extension's dict and
// mod_ssl's WSGI environ variables. Built from the per-connection C++ record each time
// Python asks (text copies only: the PEM conversion was done once, after the handshake).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "core/tls_info.hpp"

#include <memory>

namespace ringbolt::py {

/// Ready ringbolt._native.TLSInfo and add it to `module` (once, at module init); -1 on error.
int init_tls_info_type(PyObject* module);

/// A new TLSInfo over `info` (new reference; nullptr with an exception).
PyObject* new_tls_info(const core::tls_ref& info);

/// The ASGI TLS extension's dict (asgiref specs/tls.rst): server_cert, client_cert_chain,
/// client_cert_name, client_cert_error, tls_version, cipher_suite (new reference).
PyObject* asgi_tls_extension(const core::tls_info& info);

/// Add mod_ssl's variables (SSL_PROTOCOL, SSL_CIPHER, SSL_CLIENT_CERT, SSL_CLIENT_S_DN...)
/// to a WSGI environ; false with an exception.
bool add_wsgi_tls_vars(PyObject* environ, const core::tls_info& info);

} // namespace ringbolt::py
