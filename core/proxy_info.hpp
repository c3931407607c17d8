// What a load balancer's PROXY protocol header said about a connection, beyond the client
// address the connection then serves (--proxy-protocol, transport/proxy_transport.hpp):
// the address the client connected to, the balancer itself, and version 2's TLVs an
// application may read. Made once per connection when its header is read, before any
// request exists, and read-only afterwards: every request (and HTTP/2 stream) of the
// connection shares it, on any thread. A connection without a header has none.
#pragma once

#include "core/counted_ref.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace ringbolt::core {

/// An address as a header or socket gives it: family AF_INET / AF_INET6 (0: none).
struct endpoint_address {
    uint8_t family = 0;
    uint8_t addr[16] = {};
    uint16_t port = 0; ///< host byte order
};

struct proxy_info {
    uint8_t version = 0;          ///< 1 (text) or 2 (binary)
    endpoint_address balancer;    ///< the socket's peer: the balancer that sent the header
    endpoint_address destination; ///< the address the client connected to, as the header says
    std::string alpn;             ///< PP2_TYPE_ALPN: what the client negotiated with the balancer ("" none)
    std::string authority;        ///< PP2_TYPE_AUTHORITY: the host name the client asked for ("" none)
    std::string unique_id;        ///< PP2_TYPE_UNIQUE_ID: the balancer's id of the connection ("" none)
    bool ssl = false;             ///< PP2_TYPE_SSL with PP2_CLIENT_SSL: the client spoke TLS to the balancer
    bool ssl_verified = false;    ///< a client certificate came, and the balancer verified it
    std::string ssl_version, ssl_cipher, ssl_cn; ///< PP2_SUBTYPE_SSL_VERSION, _CIPHER, _CN ("" none)
    mutable std::atomic<uint32_t> refs{0};       ///< proxy_ref holders (the transport, requests)
};

using proxy_ref = counted_ref<proxy_info>;

} // namespace ringbolt::core
