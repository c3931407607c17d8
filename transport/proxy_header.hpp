// The PROXY protocol header (HAProxy's, versions 1 and 2) a load balancer sends first on
// a connection it passes through, naming the client it came from: a pure parser over
// bytes, as the HTTP parser is (incomplete, done with the bytes it took, or an error that
// names the fault), so it can be fed a byte at a time and fuzzed.
// https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringbolt::transport {

/// Which versions a listener takes (--proxy-protocol v1, v2, any).
enum proxy_versions : uint8_t { proxy_v1 = 1, proxy_v2 = 2, proxy_any = 3 };

/// What a header says. `local`: the balancer's own connection (v2 LOCAL, v1 UNKNOWN, a
/// health check): it names no client, the socket's peer stands.
struct proxy_header {
    uint8_t version = 0;
    bool local = false;
    uint8_t family = 0; ///< AF_INET or AF_INET6 (0: no address: local, or an unknown family)
    uint8_t source[16] = {};
    uint8_t destination[16] = {};
    uint16_t source_port = 0; ///< host byte order
    uint16_t destination_port = 0;
    // Version 2's TLVs an application may read (proxy-protocol.txt §2.2).
    std::string alpn;          ///< PP2_TYPE_ALPN: what the client negotiated with the balancer
    std::string authority;     ///< PP2_TYPE_AUTHORITY: the host name the client asked for (SNI)
    std::string unique_id;     ///< PP2_TYPE_UNIQUE_ID
    bool ssl = false;          ///< PP2_TYPE_SSL with PP2_CLIENT_SSL: the client spoke TLS to the balancer
    bool ssl_verified = false; ///< a client certificate came, and the balancer verified it
    std::string ssl_version, ssl_cipher, ssl_cn; ///< its PP2_SUBTYPE_SSL_VERSION, _CIPHER, _CN
};

enum class proxy_status : uint8_t {
    incomplete, ///< all of `bytes` is a header's start: more is needed
    done,       ///< a header, `consumed` bytes of `bytes`; what follows is the connection's
    error,      ///< not a header of an accepted version, or a malformed one: `why` says how
};

struct proxy_result {
    proxy_status status = proxy_status::incomplete;
    size_t consumed = 0;
    const char* why = nullptr;
};

/// The largest version 1 header (proxy-protocol.txt §2.1: 107 bytes with its CRLF).
inline constexpr size_t proxy_v1_max = 107;
/// Version 2's 16-byte fixed part.
inline constexpr size_t proxy_v2_fixed = 16;
/// The most a version 2 header can announce after its fixed part: its length field has 16
/// bits (proxy-protocol.txt §2.2), so a whole header is at most 16 + 65,535 bytes.
inline constexpr size_t proxy_v2_max_length = 65535;

/// Parse the header at the start of `bytes` (all that came on the connection so far).
/// `accept`: proxy_v1, proxy_v2 or both; `max_v2`: the most a version 2 header may
/// announce after its fixed part (addresses and TLVs).
proxy_result parse_proxy_header(std::string_view bytes, uint8_t accept, size_t max_v2, proxy_header& out);

} // namespace ringbolt::transport
