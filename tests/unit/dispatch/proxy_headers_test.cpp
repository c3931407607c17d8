// Proxy headers: which peers are trusted, and what their forwarding headers say.
#include "dispatch/proxy_headers.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

namespace ringbolt::http {
namespace {

peer_address addr(const char* text) {
    peer_address p;
    EXPECT_TRUE(dispatch::parse_address(text, p)) << text;
    return p;
}

std::string show(const peer_address& p) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(p.family, p.addr, buf, sizeof(buf));
    return std::string(buf) + "#" + std::to_string(p.port);
}

request_head head_with(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    request_head h;
    for (const auto& [name, value] : fields) {
        h.headers[h.num_headers++] = {name, value};
    }
    return h;
}

TEST(TrustedProxies, ParsesAddressesNetworksAndRefusesGarbage) {
    dispatch::trusted_proxies t;
    EXPECT_EQ(t.parse("127.0.0.1, 10.0.0.0/8,::1"), "");
    EXPECT_TRUE(t.contains(addr("127.0.0.1")));
    EXPECT_TRUE(t.contains(addr("10.200.3.4")));
    EXPECT_FALSE(t.contains(addr("11.0.0.1")));
    EXPECT_TRUE(t.contains(addr("::1")));
    EXPECT_TRUE(t.contains(addr("::ffff:127.0.0.1"))); // v4-mapped matches the v4 entry
    EXPECT_FALSE(t.contains(addr("::2")));
    EXPECT_NE(t.parse("10.0.0.0/33").find("prefix"), std::string::npos);
    EXPECT_NE(t.parse("localhost").find("'localhost'"), std::string::npos);
    EXPECT_EQ(t.parse("*"), "");
    EXPECT_TRUE(t.contains(addr("203.0.113.9")));
    EXPECT_EQ(t.parse(""), "");
    EXPECT_TRUE(t.empty());
}

TEST(ParseAddress, PortsAndBrackets) {
    EXPECT_EQ(show(addr("1.2.3.4:80")), "1.2.3.4#80");
    EXPECT_EQ(show(addr("[2001:db8::1]:443")), "2001:db8::1#443");
    EXPECT_EQ(show(addr("2001:db8::1")), "2001:db8::1#0");
    peer_address p;
    EXPECT_FALSE(dispatch::parse_address("unknown", p));
    EXPECT_FALSE(dispatch::parse_address("1.2.3.4:http", p));
    EXPECT_FALSE(dispatch::parse_address("[::1", p));
}

TEST(ReadForwarded, XForwardedForTakesTheRightmostUntrustedHop) {
    dispatch::trusted_proxies t;
    ASSERT_EQ(t.parse("127.0.0.1,10.0.0.0/8"), "");
    request_head h = head_with({{"X-Forwarded-For", "198.51.100.7, 203.0.113.5, 10.1.1.1"},
                                {"X-Forwarded-Proto", "https"},
                                {"X-Forwarded-Host", "example.com"}});
    dispatch::forwarded_info f = read_forwarded(h, t);
    ASSERT_TRUE(f.has_client);
    EXPECT_EQ(show(f.client), "203.0.113.5#0"); // 10.1.1.1 is another trusted proxy
    EXPECT_EQ(f.proto, "https");
    EXPECT_EQ(f.host, "example.com");
}

TEST(ReadForwarded, AllTrustedHopsGiveTheLeftmost) {
    dispatch::trusted_proxies t;
    ASSERT_EQ(t.parse("*"), "");
    dispatch::forwarded_info f = read_forwarded(head_with({{"x-forwarded-for", "192.0.2.1, 192.0.2.2"}}), t);
    ASSERT_TRUE(f.has_client);
    EXPECT_EQ(show(f.client), "192.0.2.1#0");
}

TEST(ReadForwarded, Rfc7239WinsOverXHeaders) {
    dispatch::trusted_proxies t;
    ASSERT_EQ(t.parse("127.0.0.1"), "");
    request_head h = head_with({{"X-Forwarded-For", "192.0.2.99"},
                                {"Forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https;host=shop.example"}});
    dispatch::forwarded_info f = read_forwarded(h, t);
    ASSERT_TRUE(f.has_client);
    EXPECT_EQ(show(f.client), "2001:db8:cafe::17#4711");
    EXPECT_EQ(f.proto, "https");
    EXPECT_EQ(f.host, "shop.example");
}

TEST(ReadForwarded, UnparseableClientIsIgnored) {
    dispatch::trusted_proxies t;
    ASSERT_EQ(t.parse("127.0.0.1"), "");
    dispatch::forwarded_info f = read_forwarded(head_with({{"X-Forwarded-For", "not-an-ip"}, {"Forwarded", ""}}), t);
    EXPECT_FALSE(f.has_client);
    f = dispatch::read_forwarded(head_with({{"Forwarded", "for=_hidden;proto=http"}}), t);
    EXPECT_FALSE(f.has_client);
    EXPECT_EQ(f.proto, "http");
}

} // namespace
} // namespace ringbolt::http
