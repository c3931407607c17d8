// The module `_h3libs` (ringbolt/_h3libs.<the extension's suffix>), which the extension
// dlopens when HTTP/3 starts (h3_libraries.cpp): it links HTTP/3's libraries, so that the
// loader brings them and their own, and auditwheel bundles them as it does the extension's.
// Not a Python module (no PyInit): a table of their functions' addresses, linked here.

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
