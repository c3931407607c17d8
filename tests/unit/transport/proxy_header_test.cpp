// transport/proxy_header: version 1 and 2 headers as HAProxy sends them, each also fed cut
// at every byte (incomplete until whole, then the same answer), and the bad ones with the
// fault named: what a client that is not a balancer, or a broken one, can send.
#include "proxy_wire.hpp"
#include "transport/proxy_header.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>
#include <vector>

namespace {

using namespace ringbolt::transport;
using namespace ringbolt::transport::test_wire;

std::string text_of(const proxy_header& h, const uint8_t* addr) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (h.family != 0) {
        inet_ntop(h.family, addr, buf, sizeof(buf));
    }
    return buf;
}

struct good_case {
    const char* name;
    std::string bytes;
    uint8_t accept;
    bool local;
    std::string source;
    uint16_t port;
};

TEST(ProxyHeader, GoodHeadersWholeAndCutAtEveryByte) {
    std::string ssl = tlv(0x20, std::string("\x01\x00\x00\x00\x00", 5) + tlv(0x21, "TLSv1.3") +
                                    tlv(0x23, "TLS_AES_128_GCM_SHA256") + tlv(0x22, "client.example"));
    std::vector<good_case> cases = {
        {"v1 TCP4", "PROXY TCP4 192.0.2.7 198.51.100.9 51000 443\r\n", proxy_v1, false, "192.0.2.7", 51000},
        {"v1 TCP6", "PROXY TCP6 2001:db8::7 2001:db8::9 51000 443\r\n", proxy_any, false, "2001:db8::7", 51000},
        {"v1 UNKNOWN", "PROXY UNKNOWN\r\n", proxy_v1, true, "", 0},
        {"v1 UNKNOWN with addresses", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", proxy_v1, true, "", 0},
        {"v2 PROXY TCP4", v2(0x21, 0x11, ipv4_body()), proxy_v2, false, "192.0.2.7", 51000},
        {"v2 TCP6",
         v2(0x21, 0x21, std::string(15, '\0') + "\x01" + std::string(16, '\0') + std::string("\x00\x50\x01\xBB", 4)),
         proxy_any, false, "::1", 80},
        {"v2 LOCAL (a health check)", v2(0x20, 0x00, ""), proxy_v2, true, "", 0},
        {"v2 LOCAL with addresses", v2(0x20, 0x11, ipv4_body()), proxy_v2, true, "", 0},
        {"v2 with TLVs",
         v2(0x21, 0x11,
            ipv4_body(tlv(0x01, "h2") + tlv(0x02, "example.com") + tlv(0x04, "") + tlv(0x05, "id-1") + ssl +
                      tlv(0xE0, "custom"))),
         proxy_v2, false, "192.0.2.7", 51000},
        {"v2 of the largest length the spec allows", largest_v2(), proxy_any, false, "192.0.2.7", 51000},
    };
    for (const good_case& c : cases) {
        SCOPED_TRACE(c.name);
        std::string wire = c.bytes + "GET / HTTP/1.1\r\n";
        for (size_t cut = 0; cut <= c.bytes.size(); ++cut) {
            proxy_header h;
            proxy_result r =
                parse_proxy_header(std::string_view(wire).substr(0, cut), c.accept, proxy_v2_max_length, h);
            if (cut < c.bytes.size()) {
                ASSERT_EQ(r.status, proxy_status::incomplete) << cut << ": " << (r.why ? r.why : "");
                continue;
            }
            ASSERT_EQ(r.status, proxy_status::done) << (r.why ? r.why : "");
        }
        proxy_header h;
        proxy_result r = parse_proxy_header(wire, c.accept, proxy_v2_max_length, h);
        ASSERT_EQ(r.status, proxy_status::done) << (r.why ? r.why : "");
        EXPECT_EQ(r.consumed, c.bytes.size()); // what follows is the connection's
        EXPECT_EQ(h.local, c.local);
        EXPECT_EQ(text_of(h, h.source), c.source);
        EXPECT_EQ(h.source_port, c.port);
        if (std::string(c.name) == "v2 of the largest length the spec allows") {
            EXPECT_EQ(r.consumed, proxy_v2_fixed + proxy_v2_max_length);
            EXPECT_EQ(h.authority, "example.com"); // read before the padding
        }
        if (std::string(c.name) == "v2 with TLVs") {
            EXPECT_EQ(text_of(h, h.destination), "198.51.100.9");
            EXPECT_EQ(h.destination_port, 443);
            EXPECT_EQ(h.alpn, "h2");
            EXPECT_EQ(h.authority, "example.com");
            EXPECT_EQ(h.unique_id, "id-1");
            EXPECT_TRUE(h.ssl);
            EXPECT_EQ(h.ssl_version, "TLSv1.3");
            EXPECT_EQ(h.ssl_cipher, "TLS_AES_128_GCM_SHA256");
            EXPECT_EQ(h.ssl_cn, "client.example");
            EXPECT_FALSE(h.ssl_verified); // (no client certificate came)
        }
    }
}

TEST(ProxyHeader, BadHeadersAreRefusedNamingTheFault) {
    struct bad_case {
        std::string bytes;
        uint8_t accept;
        const char* why;
    };
    std::vector<bad_case> cases = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", proxy_any, "no PROXY protocol header of an accepted version"},
        {"PROXY TCP4 192.0.2.7 198.51.100.9 51000 443\r\n", proxy_v2,
         "no PROXY protocol header of an accepted version"},
        {v2(0x21, 0x11, ipv4_body()), proxy_v1, "no PROXY protocol header of an accepted version"},
        {"PROXY TCP4 192.0.2.7 198.51.100.9 51000\r\n", proxy_v1, "a version 1 header without its five fields"},
        {"PROXY TCP4 192.0.2.7 198.51.100.9 51000 443 9\r\n", proxy_v1, "a version 1 header without its five fields"},
        {"PROXY TCP5 192.0.2.7 198.51.100.9 51000 443\r\n", proxy_v1, "a version 1 header of an unknown protocol"},
        {"PROXY TCP4 192.0.2.777 198.51.100.9 51000 443\r\n", proxy_v1, "a version 1 header with a bad address"},
        {"PROXY TCP4 2001:db8::7 198.51.100.9 51000 443\r\n", proxy_v1, "a version 1 header with a bad address"},
        {"PROXY TCP4 192.0.2.7 198.51.100.9 65536 443\r\n", proxy_v1, "a version 1 header with a bad port"},
        {"PROXY TCP4 192.0.2.7 198.51.100.9 051000 443\r\n", proxy_v1, "a version 1 header with a bad port"},
        {"PROXY TCP4 192.0.2.7 198.51.100.9 51000 443\n", proxy_v1, "a version 1 header ended by LF without CR"},
        {"PROXY " + std::string(120, 'A'), proxy_v1, "a version 1 header longer than 107 bytes"},
        {v2(0x11, 0x11, ipv4_body()), proxy_v2, "a version 2 header of another version"},
        {v2(0x22, 0x11, ipv4_body()), proxy_v2, "a version 2 header with an unknown command"},
        {v2(0x21, 0x11, "short"), proxy_v2, "a version 2 header too short for its IPv4 addresses"},
        {v2(0x21, 0x21, ipv4_body()), proxy_v2, "a version 2 header too short for its IPv6 addresses"},
        {v2(0x21, 0x31, std::string(216, 'u')), proxy_v2,
         "a version 2 header of an address family other than TCP over IP"},
        {v2(0x21, 0x12, ipv4_body()), proxy_v2, "a version 2 header of an address family other than TCP over IP"},
        {v2(0x21, 0x11, ipv4_body("\x01\x00")), proxy_v2, "a version 2 header with a truncated TLV"},
        {v2(0x21, 0x11, ipv4_body(std::string("\x01\x00\x09h2", 5))), proxy_v2,
         "a version 2 header with a TLV longer than the header"},
        {v2(0x21, 0x11, ipv4_body(tlv(0x20, "\x01\x00"))), proxy_v2, "a version 2 header with a malformed SSL TLV"},
        {v2(0x21, 0x11, ipv4_body(std::string(5000, '\x04'))), proxy_v2, "a version 2 header longer than the limit"},
    };
    for (const bad_case& c : cases) {
        proxy_header h;
        proxy_result r = parse_proxy_header(c.bytes, c.accept, 4096, h);
        ASSERT_EQ(r.status, proxy_status::error) << c.why;
        EXPECT_STREQ(r.why, c.why);
    }
}

} // namespace
