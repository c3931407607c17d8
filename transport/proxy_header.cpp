// The PROXY protocol header parser (see proxy_header.hpp): version 1's text line and
// version 2's binary block with its TLVs. Nothing is allocated but the TLV strings kept.
#include "transport/proxy_header.hpp"

#include "core/strings.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace ringbolt::transport {

namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr unsigned char v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

proxy_result error(const char* why) {
    return {proxy_status::error, 0, why};
}

// `have` (what came) agrees with `expected` as far as it goes: a header of that kind may
// still be arriving.
bool prefix_of(std::string_view have, std::string_view expected) {
    size_t n = std::min(have.size(), expected.size());
    return have.substr(0, n) == expected.substr(0, n);
}

// A decimal port of 1 to 5 digits, no sign or leading zero (proxy-protocol.txt §2.1).
bool parse_port(std::string_view s, uint16_t& out) {
    uint64_t v = 0;
    if ((s.size() > 1 && s[0] == '0') || !core::parse_digits(s, 5, v) || v > 65535) {
        return false;
    }
    out = static_cast<uint16_t>(v);
    return true;
}

bool parse_address(std::string_view s, int family, uint8_t* out) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (s.empty() || s.size() >= sizeof(buf)) {
        return false;
    }
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    return inet_pton(family, buf, out) == 1;
}

proxy_result parse_v1(std::string_view bytes, proxy_header& out) {
    // The line ends at its first LF, which must follow a CR (whatever comes after it, so a
    // header reads the same whole or in pieces).
    size_t lf = bytes.find('\n');
    if (lf == std::string_view::npos) {
        if (bytes.size() >= proxy_v1_max) {
            return error("a version 1 header longer than 107 bytes");
        }
        return {proxy_status::incomplete, 0, nullptr};
    }
    if (bytes[lf - 1] != '\r') { // (lf >= 6: the prefix is there)
        return error("a version 1 header ended by LF without CR");
    }
    size_t eol = lf - 1;
    if (eol + 2 > proxy_v1_max) {
        return error("a version 1 header longer than 107 bytes");
    }
    std::string_view line = bytes.substr(v1_prefix.size(), eol - v1_prefix.size());
    out = proxy_header{};
    out.version = 1;
    proxy_result done{proxy_status::done, eol + 2, nullptr};
    if (line.starts_with("UNKNOWN")) {
        out.local = true; // the balancer does not know (or says nothing of) the client
        return done;
    }
    // "TCP4 SRC DST SPORT DPORT" or "TCP6 ...": five fields, one space apart.
    std::string_view field[5];
    size_t n = 0;
    while (n < 5) {
        size_t sp = line.find(' ');
        field[n++] = line.substr(0, sp);
        if (sp == std::string_view::npos) {
            line = {};
            break;
        }
        line.remove_prefix(sp + 1);
    }
    if (n != 5 || !line.empty()) {
        return error("a version 1 header without its five fields");
    }
    int family;
    if (field[0] == "TCP4") {
        family = AF_INET;
    } else if (field[0] == "TCP6") {
        family = AF_INET6;
    } else {
        return error("a version 1 header of an unknown protocol");
    }
    if (!parse_address(field[1], family, out.source) || !parse_address(field[2], family, out.destination)) {
        return error("a version 1 header with a bad address");
    }
    if (!parse_port(field[3], out.source_port) || !parse_port(field[4], out.destination_port)) {
        return error("a version 1 header with a bad port");
    }
    out.family = static_cast<uint8_t>(family);
    return done;
}

uint16_t be16(const unsigned char* p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

// PP2_TYPE_SSL's value: client flags, verify result, then sub-TLVs (§2.2.5).
bool parse_ssl(std::string_view v, proxy_header& out) {
    if (v.size() < 5) {
        return false;
    }
    auto flags = static_cast<unsigned char>(v[0]);
    out.ssl = (flags & 0x01) != 0; // PP2_CLIENT_SSL
    const auto* verify = reinterpret_cast<const unsigned char*>(v.data()) + 1;
    // PP2_CLIENT_CERT_CONN or _SESS: a certificate came; verify 0: the balancer checked it.
    out.ssl_verified = (flags & 0x06) != 0 && (verify[0] | verify[1] | verify[2] | verify[3]) == 0;
    v.remove_prefix(5);
    while (!v.empty()) {
        if (v.size() < 3) {
            return false;
        }
        auto type = static_cast<unsigned char>(v[0]);
        uint16_t len = be16(reinterpret_cast<const unsigned char*>(v.data()) + 1);
        if (v.size() - 3 < len) {
            return false;
        }
        std::string_view value = v.substr(3, len);
        if (type == 0x21) {
            out.ssl_version.assign(value);
        } else if (type == 0x22) {
            out.ssl_cn.assign(value);
        } else if (type == 0x23) {
            out.ssl_cipher.assign(value);
        }
        v.remove_prefix(3 + len);
    }
    return true;
}

proxy_result parse_v2(std::string_view bytes, size_t max_v2, proxy_header& out) {
    if (bytes.size() < proxy_v2_fixed) {
        return {proxy_status::incomplete, 0, nullptr};
    }
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if ((p[12] >> 4) != 2) {
        return error("a version 2 header of another version");
    }
    unsigned command = p[12] & 0x0F;
    if (command > 1) {
        return error("a version 2 header with an unknown command");
    }
    size_t len = be16(p + 14);
    if (len > max_v2) {
        return error("a version 2 header longer than the limit");
    }
    if (bytes.size() < proxy_v2_fixed + len) {
        return {proxy_status::incomplete, 0, nullptr};
    }
    out = proxy_header{};
    out.version = 2;
    out.local = command == 0; // LOCAL: the balancer's own connection (a health check)
    const unsigned char* body = p + proxy_v2_fixed;
    size_t addresses = 0;
    // Source and destination addresses of `n` bytes each, then the two ports (§2.2).
    auto take_addresses = [&](int family, size_t n) {
        addresses = 2 * n + 4;
        if (len < addresses) {
            return false;
        }
        if (!out.local) {
            out.family = family;
            std::memcpy(out.source, body, n);
            std::memcpy(out.destination, body + n, n);
            out.source_port = be16(body + 2 * n);
            out.destination_port = be16(body + 2 * n + 2);
        }
        return true;
    };
    switch (p[13]) {
    case 0x11: // TCP over IPv4
        if (!take_addresses(AF_INET, 4)) {
            return error("a version 2 header too short for its IPv4 addresses");
        }
        break;
    case 0x21: // TCP over IPv6
        if (!take_addresses(AF_INET6, 16)) {
            return error("a version 2 header too short for its IPv6 addresses");
        }
        break;
    case 0x00: // UNSPEC: no address (LOCAL, or a protocol the balancer cannot say)
        out.local = true;
        break;
    default:
        if (!out.local) {
            return error("a version 2 header of an address family other than TCP over IP");
        }
        addresses = len; // LOCAL of another family: its addresses are skipped
        break;
    }
    std::string_view tlvs(reinterpret_cast<const char*>(body) + addresses, len - addresses);
    while (!tlvs.empty()) {
        if (tlvs.size() < 3) {
            return error("a version 2 header with a truncated TLV");
        }
        auto type = static_cast<unsigned char>(tlvs[0]);
        uint16_t n = be16(reinterpret_cast<const unsigned char*>(tlvs.data()) + 1);
        if (tlvs.size() - 3 < n) {
            return error("a version 2 header with a TLV longer than the header");
        }
        std::string_view value = tlvs.substr(3, n);
        switch (type) {
        case 0x01:
            out.alpn.assign(value);
            break;
        case 0x02:
            out.authority.assign(value);
            break;
        case 0x05:
            out.unique_id.assign(value.substr(0, 128)); // (§2.2.4: at most 128 bytes)
            break;
        case 0x20:
            if (!parse_ssl(value, out)) {
                return error("a version 2 header with a malformed SSL TLV");
            }
            break;
        default:
            break; // CRC32C, NOOP, NETNS and custom types: read past
        }
        tlvs.remove_prefix(3 + n);
    }
    return {proxy_status::done, proxy_v2_fixed + len, nullptr};
}

} // namespace

proxy_result parse_proxy_header(std::string_view bytes, uint8_t accept, size_t max_v2, proxy_header& out) {
    std::string_view sig(reinterpret_cast<const char*>(v2_signature), sizeof(v2_signature));
    bool may_v1 = (accept & proxy_v1) != 0 && prefix_of(bytes, v1_prefix);
    bool may_v2 = (accept & proxy_v2) != 0 && prefix_of(bytes, sig);
    if (!may_v1 && !may_v2) {
        return error(bytes.empty() ? "no header" : "no PROXY protocol header of an accepted version");
    }
    if (may_v1 && bytes.size() >= v1_prefix.size()) {
        return parse_v1(bytes, out);
    }
    if (may_v2 && bytes.size() >= sig.size()) {
        return parse_v2(bytes, max_v2, out);
    }
    return {proxy_status::incomplete, 0, nullptr};
}

} // namespace ringbolt::transport
