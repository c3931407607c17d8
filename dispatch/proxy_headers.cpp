#include "dispatch/proxy_headers.hpp"

#include "core/strings.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace ringbolt::dispatch {

namespace {

bool parse_ip(std::string_view text, uint8_t& family, uint8_t* addr) noexcept {
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof(buf)) {
        return false;
    }
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        family = AF_INET6;
        return true;
    }
    return false;
}

// The last element of a comma-separated list that is not a trusted proxy; else the first.
std::string_view pick_client(std::string_view list, const trusted_proxies& trusted) noexcept {
    std::string_view first;
    std::string_view chosen;
    while (!list.empty()) {
        std::string_view item = core::pop_list_element(list);
        if (item.empty()) {
            continue;
        }
        if (first.empty()) {
            first = item;
        }
        if (!trusted.contains(item)) {
            chosen = item; // keep the rightmost untrusted
        }
    }
    return chosen.empty() ? first : chosen;
}

std::string_view unquote(std::string_view v) noexcept {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        return v.substr(1, v.size() - 2);
    }
    return v;
}

// Forwarded: for=...;proto=...;host=..., elements separated by ',' (one per proxy hop).
void read_rfc7239(std::string_view value, const trusted_proxies& trusted, forwarded_info& out) noexcept {
    // Walk the hops right to left: the nearest hop that is not a trusted proxy is the client.
    std::string_view hops[16];
    size_t n = 0;
    while (!value.empty() && n < std::size(hops)) {
        hops[n++] = core::pop_list_element(value);
    }
    bool picked = false;
    for (size_t i = n; i-- > 0;) {
        std::string_view hop = hops[i];
        std::string_view for_value, proto, host;
        while (!hop.empty()) {
            size_t semi = hop.find(';');
            std::string_view pair = core::trim_ows(hop.substr(0, semi));
            hop = semi == std::string_view::npos ? std::string_view{} : hop.substr(semi + 1);
            size_t eq = pair.find('=');
            if (eq == std::string_view::npos) {
                continue;
            }
            std::string_view key = core::trim_ows(pair.substr(0, eq));
            std::string_view val = unquote(core::trim_ows(pair.substr(eq + 1)));
            if (core::iequals(key, "for")) {
                for_value = val;
            } else if (core::iequals(key, "proto")) {
                proto = val;
            } else if (core::iequals(key, "host")) {
                host = val;
            }
        }
        if (!proto.empty()) {
            out.proto = proto;
        }
        if (!host.empty()) {
            out.host = host;
        }
        if (!for_value.empty() && !picked) {
            http::peer_address p;
            if (parse_address(for_value, p)) {
                out.client = p;
                out.has_client = true;
                if (!trusted.contains(p)) {
                    picked = true;
                }
            }
        }
        if (picked) {
            break;
        }
    }
}

} // namespace

bool parse_address(std::string_view text, http::peer_address& out) noexcept {
    text = core::trim_ows(text);
    uint16_t port = 0;
    std::string_view host = text;
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        host = text.substr(1, close - 1);
        std::string_view rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return false;
            }
            auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), port);
            if (ec != std::errc() || end != rest.data() + rest.size()) {
                return false;
            }
        }
    } else if (size_t colon = text.find(':');
               colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
        host = text.substr(0, colon); // a.b.c.d:port
        auto [end, ec] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), port);
        if (ec != std::errc() || end != text.data() + text.size()) {
            return false;
        }
    }
    http::peer_address p;
    if (!parse_ip(host, p.family, p.addr)) {
        return false;
    }
    p.port = port;
    out = p;
    return true;
}

std::string trusted_proxies::parse(std::string_view list) {
    _all = false;
    _nets.clear();
    while (!list.empty()) {
        std::string_view item = core::pop_list_element(list);
        if (item.empty()) {
            continue;
        }
        if (item == "*") {
            _all = true;
            continue;
        }
        net n{};
        std::string_view addr = item;
        size_t slash = item.find('/');
        if (slash != std::string_view::npos) {
            addr = item.substr(0, slash);
        }
        if (!parse_ip(addr, n.family, n.addr)) {
            return "forwarded_allow_ips: '" + std::string(item) + "' is not an IP address or network";
        }
        unsigned bits = n.family == AF_INET ? 32 : 128;
        n.prefix = static_cast<uint8_t>(bits);
        if (slash != std::string_view::npos) {
            unsigned prefix = 0;
            std::string_view p = item.substr(slash + 1);
            auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
            if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix > bits) {
                return "forwarded_allow_ips: '" + std::string(item) + "' has a bad prefix length";
            }
            n.prefix = static_cast<uint8_t>(prefix);
        }
        _nets.push_back(n);
    }
    return {};
}

bool trusted_proxies::contains(const http::peer_address& peer) const noexcept {
    if (_all) {
        return true;
    }
    for (const net& n : _nets) {
        const uint8_t* a = peer.addr;
        uint8_t mapped[16];
        if (n.family == AF_INET && peer.family == AF_INET6) {
            // ::ffff:a.b.c.d matches an IPv4 entry
            static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            if (std::memcmp(peer.addr, prefix, 12) != 0) {
                continue;
            }
            std::memcpy(mapped, peer.addr + 12, 4);
            a = mapped;
        } else if (n.family != peer.family) {
            continue;
        }
        unsigned full = n.prefix / 8;
        unsigned rest = n.prefix % 8;
        if (std::memcmp(a, n.addr, full) != 0) {
            continue;
        }
        if (rest != 0) {
            uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
            if ((a[full] & mask) != (n.addr[full] & mask)) {
                continue;
            }
        }
        return true;
    }
    return false;
}

bool trusted_proxies::contains(std::string_view address) const noexcept {
    http::peer_address p;
    return parse_address(address, p) && contains(p);
}

forwarded_info read_forwarded(const http::request_head& head, const trusted_proxies& trusted) noexcept {
    forwarded_info out;
    std::string_view xff, xfp, xfh, fwd;
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        std::string_view name = head.headers[i].name;
        std::string_view value = head.headers[i].value;
        if (core::iequals(name, "forwarded")) {
            fwd = value;
        } else if (core::iequals(name, "x-forwarded-for")) {
            xff = value;
        } else if (core::iequals(name, "x-forwarded-proto")) {
            xfp = value;
        } else if (core::iequals(name, "x-forwarded-host")) {
            xfh = value;
        }
    }
    if (!fwd.empty()) {
        read_rfc7239(fwd, trusted, out);
        return out;
    }
    if (!xff.empty()) {
        http::peer_address p;
        if (parse_address(pick_client(xff, trusted), p)) {
            out.client = p;
            out.has_client = true;
        }
    }
    if (!xfp.empty()) {
        out.proto = core::trim_ows(xfp.substr(0, xfp.find(','))); // the first hop's scheme
    }
    if (!xfh.empty()) {
        out.host = core::trim_ows(xfh.substr(0, xfh.find(',')));
    }
    return out;
}

} // namespace ringbolt::dispatch
