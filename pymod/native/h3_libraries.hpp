#pragma once
// HTTP/3's libraries (libngtcp2, libngtcp2_crypto_gnutls, libnghttp3, GnuTLS and its own:
// 1.9 MiB of every worker's RSS) load when HTTP/3 first needs them, not with the extension:
// the extension does not link them (docs/deployment.md, "Memory"; docs/architecture.md).

#include <string>

namespace ringbolt::py {

/// Loads the libraries (once a process; later calls answer the first's result): the module
/// `_h3libs` beside the extension, which links them, then every function the extension
/// calls. Until then a call into them aborts naming the function. False with the loader's
/// reason in `error` (a library missing, a module from another build).
bool load_http3_libraries(std::string& error);

} // namespace ringbolt::py
