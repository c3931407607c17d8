// The module `_h3libs` (ringbolt/_h3libs.<the extension's suffix>), which the extension
// dlopens when HTTP/3 starts (h3_libraries.cpp): it links HTTP/3's libraries, so that the
// loader brings them and their own, and auditwheel bundles them as it does the extension's.
// A table of their functions' addresses, linked here; and, for whoever imports every
// module of the package (pkgutil, documentation tools), an empty Python module.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pymod/native/h3_library_names.hpp"

// The names only, as the linker sees them: no header of the libraries, whose declarations
// would not matter to a table of addresses.
extern "C" {
#define RINGBOLT_H3_DECLARE(name) void name();
RINGBOLT_H3_LIBRARY_FUNCTIONS(RINGBOLT_H3_DECLARE)
#undef RINGBOLT_H3_DECLARE
extern char gnutls_free; // a variable (h3_library_names.hpp): its address

// What the extension looks up (dlsym): exported whatever the build's default visibility.
__attribute__((visibility("default"))) extern const char ringbolt_h3_library_names[];
__attribute__((visibility("default"))) extern void* const ringbolt_h3_library_entries[];

const char ringbolt_h3_library_names[] = RINGBOLT_H3_LIBRARY_NAMES;

#define RINGBOLT_H3_ADDRESS(name) reinterpret_cast<void*>(&name),
// In the order of the names: gnutls_free's address, then each function's.
void* const ringbolt_h3_library_entries[] = {&gnutls_free, RINGBOLT_H3_LIBRARY_FUNCTIONS(RINGBOLT_H3_ADDRESS)};
#undef RINGBOLT_H3_ADDRESS
}

namespace {
PyModuleDef h3libs_module = {
    PyModuleDef_HEAD_INIT,
    "_h3libs",
    "HTTP/3's libraries (ngtcp2, nghttp3, GnuTLS), which ringbolt._native loads from here when HTTP/3 "
    "starts. Nothing in it is called from Python.",
    -1,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr};
} // namespace

PyMODINIT_FUNC PyInit__h3libs() {
    return PyModule_Create(&h3libs_module);
}
