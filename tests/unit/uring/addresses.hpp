// Socket addresses for the datagram tests: an IPv4 or IPv6 literal with a port, and the
// address a socket is bound to.
#pragma once

#include "uring/datagram.hpp"

#include <arpa/inet.h>
#include <cstdint>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ringbolt::uring::test {

/// `host` an IPv4 literal ("127.0.0.1") or an IPv6 one ("::1", no brackets).
inline datagram_address ip_address(const char* host, uint16_t port) {
    datagram_address a{};
    if (std::strchr(host, ':') == nullptr) {
        auto* in = reinterpret_cast<sockaddr_in*>(&a.addr);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, host, &in->sin_addr);
        a.len = sizeof(sockaddr_in);
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, host, &in6->sin6_addr);
        a.len = sizeof(sockaddr_in6);
    }
    return a;
}

/// The port of an IPv4 or IPv6 address (both keep it at the same offset).
inline uint16_t port_of(const datagram_address& a) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&a.addr)->sin_port);
}

/// The address socket `fd` is bound to.
inline datagram_address bound_address(int fd) {
    datagram_address a;
    a.len = sizeof(a.addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a.addr), &a.len);
    return a;
}

} // namespace ringbolt::uring::test
