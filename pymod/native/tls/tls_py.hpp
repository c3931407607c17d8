// The TLS options of ringbolt._native.Server (ssl_* keys, uvicorn's names) and the
// module functions that check them and report kTLS.
#pragma once

#include "pymod/native/py_call.hpp"

#include "tls/context.hpp"

#include <memory>

namespace ringbolt::tls_py {

/// True when the config asks for TLS (ssl_certfile or ssl_keyfile given).
bool configured(PyObject* c);
/// The options from the config; ValueError naming the key when one is malformed.
tls::options read_options(PyObject* c);
/// Build the contexts (ValueError with one line naming the option and file when a file,
/// key or password is bad) and log kTLS's status once per process.
std::shared_ptr<tls::factory> make_factory(const tls::options& opts);
/// Build new contexts from the same files and hand them to new connections.
void reload(tls::factory& f, const tls::options& opts);
/// ringbolt._native.tls_check(config): check the ssl_* options without serving (METH_O).
PyObject* tls_check(PyObject* module, PyObject* config);
/// ringbolt._native.ktls_unavailable_reason(), ktls_ciphers(), ktls_key_updates() (METH_NOARGS).
PyObject* ktls_unavailable_reason(PyObject* module, PyObject* unused);
PyObject* ktls_ciphers(PyObject* module, PyObject* unused);
PyObject* ktls_key_updates(PyObject* module, PyObject* unused);

} // namespace ringbolt::tls_py
