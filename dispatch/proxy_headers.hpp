// Proxy headers (--proxy-headers): when the peer is a trusted proxy, the client
// address, scheme and host come from `Forwarded` (RFC 7239) or, without it, from
// X-Forwarded-For / X-Forwarded-Proto / X-Forwarded-Host. From any other peer they
// are ignored: a client cannot claim an address by sending the header itself.
#pragma once

#include "dispatch/app_request.hpp"
#include "http/parser.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::dispatch {

/// The peers whose forwarding headers are believed (--forwarded-allow-ips).
class trusted_proxies {
  public:
    /// "127.0.0.1", "10.0.0.0/8,::1", "*" (everyone). Returns an error message naming
    /// the bad entry, else "".
    std::string parse(std::string_view list);
    bool contains(const http::peer_address& peer) const noexcept;
    bool contains(std::string_view address) const noexcept; ///< a textual address
    bool empty() const noexcept { return !_all && _nets.empty(); }

  private:
    struct net {
        uint8_t family;
        uint8_t addr[16];
        uint8_t prefix; ///< bits
    };
    bool _all = false;
    std::vector<net> _nets;
};

/// What the trusted proxy says about the original request.
struct forwarded_info {
    http::peer_address client; ///< valid when has_client (port 0 unless the proxy gave one)
    bool has_client = false;
    std::string_view proto; ///< "https", "http" (empty: not given)
    std::string_view host;  ///< the original Host (empty: not given)
};

/// Read the forwarding headers of `head` (call only for a trusted peer). For
/// X-Forwarded-For's list the client is the rightmost address that is not itself a
/// trusted proxy (the leftmost when all are), as uvicorn does; `Forwarded` wins over
/// the X- headers when present. Unparseable addresses are ignored (the peer stays).
forwarded_info read_forwarded(const http::request_head& head, const trusted_proxies& trusted) noexcept;

/// Parse "1.2.3.4", "::1", "[::1]", "1.2.3.4:80", "[::1]:80" into `out`.
bool parse_address(std::string_view text, http::peer_address& out) noexcept;

} // namespace ringbolt::dispatch
