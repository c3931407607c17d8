// PROXY protocol version 2 headers as a balancer writes them, for the transport tests:
// the fixed part with its length, the addresses, TLVs.
#pragma once

#include <cstdint>
#include <string>

namespace ringbolt::transport::test_wire {

/// Signature, version/command, family/protocol, the length of `body`, then `body`.
inline std::string v2(uint8_t ver_cmd, uint8_t fam, const std::string& body) {
    std::string s("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A", 12);
    s += static_cast<char>(ver_cmd);
    s += static_cast<char>(fam);
    s += static_cast<char>(body.size() >> 8);
    s += static_cast<char>(body.size() & 0xff);
    return s + body;
}

inline std::string tlv(uint8_t type, const std::string& value) {
    std::string s;
    s += static_cast<char>(type);
    s += static_cast<char>(value.size() >> 8);
    s += static_cast<char>(value.size() & 0xff);
    return s + value;
}

/// IPv4 addresses and ports (192.0.2.7:51000 -> 198.51.100.9:443), then `tlvs`.
inline std::string ipv4_body(const std::string& tlvs = {}) {
    return std::string("\xC0\x00\x02\x07\xC6\x33\x64\x09\xC7\x38\x01\xBB", 12) + tlvs;
}

/// The largest header the spec allows (a length of 65,535): the IPv4 addresses, an
/// authority, then PP2_TYPE_NOOP padding to the end (HAProxy pads with it).
inline std::string largest_v2() {
    const std::string authority = tlv(0x02, "example.com");
    const size_t padding = 65535 - 12 - authority.size() - 3;
    return v2(0x21, 0x11, ipv4_body(authority + tlv(0x04, std::string(padding, '\0'))));
}

} // namespace ringbolt::transport::test_wire
