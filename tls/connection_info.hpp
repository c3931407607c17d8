// The TLS facts of a connection for the application (http/tls_info.hpp), read from
// OpenSSL once when the handshake completes: version, cipher, ALPN, SNI, the server's
// certificate and the client's chain as PEM, the client's subject (RFC 4514).
#pragma once

#include "core/tls_info.hpp"

#include <string>

using SSL = struct ssl_st;
using X509 = struct x509_st;

namespace ringbolt::tls {

class context;

/// PEM text of `cert` ("" when it cannot be encoded).
std::string pem_of(X509* cert);

/// Fill `out` from the connection `ssl` whose handshake just completed.
void read_connection_info(SSL* ssl, const context& ctx, core::tls_info& out);

} // namespace ringbolt::tls
