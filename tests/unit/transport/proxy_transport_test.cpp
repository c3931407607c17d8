// transport/proxy_transport: a balancer's header read off the front, the connection's own
// bytes handed on whole and once, the client taken once; a missing or malformed header
// from a balancer, and any header from another peer, close the connection (counted);
// a peer that is no balancer is served as itself.
#include "proxy_wire.hpp"
#include "transport/proxy_transport.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace {

using namespace ringbolt;
using namespace ringbolt::transport;

constexpr std::string_view request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

struct fixture {
    core::core_counters counters;
    proxy_policy policy; // the defaults: what a listener with --proxy-protocol gets
    std::unique_ptr<proxy_transport> t;
    fixture(bool trusted, uint8_t versions = proxy_any) {
        policy.versions = versions;
        t = std::make_unique<proxy_transport>(nullptr, policy, trusted, counters, 1000);
    }
    /// Feed `bytes` in pieces of `piece` bytes: what came through for the connection.
    std::string feed(std::string_view bytes, size_t piece) {
        std::string out;
        for (size_t at = 0; at < bytes.size(); at += piece) {
            out.append(t->on_wire_data(bytes.substr(at, piece)));
        }
        return out;
    }
};

TEST(ProxyTransport, ABalancersHeaderThenTheConnectionsBytes) {
    const std::string wire = "PROXY TCP4 192.0.2.7 198.51.100.9 51000 443\r\n" + std::string(request);
    for (size_t piece : {wire.size(), size_t{1}, size_t{7}, size_t{50}}) {
        SCOPED_TRACE(piece);
        fixture f(true);
        EXPECT_NE(f.t->handshake_deadline(), 0u); // the header's clock runs
        EXPECT_FALSE(f.t->established());
        std::string out = f.feed(wire, piece);
        EXPECT_EQ(out, request); // whole, once, in order
        EXPECT_TRUE(f.t->established());
        EXPECT_EQ(f.t->handshake_deadline(), 0u);
        proxied_client c;
        ASSERT_TRUE(f.t->take_proxied_client(c));
        EXPECT_FALSE(f.t->take_proxied_client(c)); // once
        char host[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, c.addr, host, sizeof(host));
        EXPECT_STREQ(host, "192.0.2.7");
        EXPECT_EQ(c.port, 51000);
        ASSERT_NE(c.info, nullptr); // the rest of the header, for the requests to share
        EXPECT_EQ(c.info->version, 1);
        EXPECT_EQ(c.info->destination.port, 443);
        inet_ntop(AF_INET, c.info->destination.addr, host, sizeof(host));
        EXPECT_STREQ(host, "198.51.100.9");
        EXPECT_EQ(c.info->refs.load(), 1u); // the transport's own reference
        core::proxy_ref request_ref(c.info);
        EXPECT_EQ(c.info->refs.load(), 2u);
        EXPECT_FALSE(f.t->secure());
        EXPECT_EQ(f.counters.proxy_headers.get(), 1u);
        EXPECT_FALSE(f.t->failed());
    }
}

// The largest header the spec allows (16 + 65,535 bytes) is read whatever the pieces, its
// clock running until it is whole; one that stalls half-way is cut by that clock.
TEST(ProxyTransport, TheLargestV2HeaderTheSpecAllows) {
    const std::string header = test_wire::largest_v2();
    ASSERT_EQ(header.size(), proxy_v2_fixed + 65535);
    for (size_t piece : {header.size() + request.size(), size_t{1460}, size_t{1}}) {
        SCOPED_TRACE(piece);
        fixture f(true);
        EXPECT_EQ(f.feed(header.substr(0, header.size() / 2), piece), "");
        EXPECT_NE(f.t->handshake_deadline(), 0u);
        EXPECT_EQ(f.feed(header.substr(header.size() / 2) + std::string(request), piece), request);
        EXPECT_TRUE(f.t->established());
        proxied_client c;
        ASSERT_TRUE(f.t->take_proxied_client(c));
        EXPECT_EQ(c.port, 51000);
        EXPECT_EQ(c.info->authority, "example.com");
        EXPECT_EQ(f.counters.proxy_headers.get(), 1u);
    }
    fixture slow(true);
    EXPECT_EQ(slow.feed(header.substr(0, header.size() / 2), 1460), "");
    slow.t->on_handshake_timeout();
    EXPECT_TRUE(slow.t->failed());
    EXPECT_EQ(slow.counters.proxy_refused.get(), 1u);
}

TEST(ProxyTransport, AHealthChecksLocalHeaderNamesNoClient) {
    fixture f(true);
    std::string wire("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x20\x00\x00\x00", 16);
    EXPECT_EQ(f.feed(wire + std::string(request), 5), request);
    proxied_client c;
    EXPECT_FALSE(f.t->take_proxied_client(c)); // the socket's peer (the balancer) stands
    EXPECT_FALSE(f.t->failed());
}

TEST(ProxyTransport, WhatABalancerMustNotSend) {
    struct refusal {
        const char* name;
        std::string wire;
        uint8_t versions;
    };
    for (const refusal& c : {refusal{"no header", std::string(request), proxy_any},
                             refusal{"garbage before it", "x" + std::string("PROXY UNKNOWN\r\n"), proxy_any},
                             refusal{"the wrong version", "PROXY UNKNOWN\r\n", proxy_v2},
                             refusal{"a bad address", "PROXY TCP4 300.0.0.1 1.1.1.1 1 2\r\n", proxy_any}}) {
        SCOPED_TRACE(c.name);
        fixture f(true, c.versions);
        EXPECT_EQ(f.feed(c.wire, 3), ""); // nothing is read as HTTP
        EXPECT_TRUE(f.t->failed());
        EXPECT_EQ(f.counters.proxy_refused.get(), 1u);
    }
    fixture cut(true);
    EXPECT_EQ(cut.feed("PROXY TCP4 192.0.2.7", 4), "");
    cut.t->on_eof(); // the connection ended inside its header
    EXPECT_TRUE(cut.t->failed());
    fixture slow(true);
    EXPECT_EQ(slow.feed("PROXY TCP4", 2), "");
    slow.t->on_handshake_timeout(); // (the reactor calls it at handshake_deadline)
    EXPECT_TRUE(slow.t->failed());
    EXPECT_EQ(slow.counters.proxy_refused.get(), 1u);
}

TEST(ProxyTransport, APeerThatIsNoBalancerIsServedAsItselfAndMayNotClaimAnother) {
    for (size_t piece : {size_t{1}, size_t{3}, request.size()}) {
        fixture f(false);
        EXPECT_EQ(f.feed(request, piece), request);
        proxied_client c;
        EXPECT_FALSE(f.t->take_proxied_client(c));
        EXPECT_FALSE(f.t->failed());
    }
    for (std::string header : {std::string("PROXY TCP4 192.0.2.7 198.51.100.9 51000 443\r\n"),
                               std::string("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A\x21\x11\x00\x0C", 16)}) {
        fixture f(false);
        EXPECT_EQ(f.feed(header + std::string(request), 2), "");
        EXPECT_TRUE(f.t->failed());
        EXPECT_EQ(f.counters.proxy_refused.get(), 1u);
    }
}

} // namespace
