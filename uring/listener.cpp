// getaddrinfo + socket/bind/listen with SO_REUSEPORT and TCP_NODELAY (inherited by
// accepted sockets on Linux, so no per-connection setsockopt), and the probe that
// keeps a second server from joining a port someone already serves.
#include "uring/listener.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::uring {

namespace {

struct addrinfo_list {
    addrinfo* head = nullptr;
    ~addrinfo_list() {
        if (head != nullptr) {
            freeaddrinfo(head);
        }
    }
};

int resolve(const std::string& host, uint16_t port, addrinfo_list& out) noexcept {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port_str[8];
    std::snprintf(port_str, sizeof(port_str), "%u", port);
    return getaddrinfo(host.empty() ? nullptr : host.c_str(), port_str, &hints, &out.head);
}

} // namespace

result<void> probe_address_free(const std::string& host, uint16_t port) noexcept {
    addrinfo_list res;
    if (resolve(host, port, res) != 0) {
        return {errc::bind_failed, EADDRNOTAVAIL};
    }
    int last_errno = EADDRNOTAVAIL;
    // The first address that binds is the one open_listener will use.
    for (addrinfo* ai = res.head; ai != nullptr; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        int rc = ::bind(fd, ai->ai_addr, ai->ai_addrlen);
        int err = errno;
        ::close(fd);
        if (rc == 0) {
            return {};
        }
        if (err == EADDRINUSE) {
            return {errc::bind_failed, EADDRINUSE};
        }
        last_errno = err;
    }
    return {errc::bind_failed, last_errno};
}

result<int> open_listener(const std::string& host, uint16_t port, int backlog) noexcept {
    addrinfo_list res;
    if (resolve(host, port, res) != 0) {
        return {errc::bind_failed, EADDRNOTAVAIL};
    }
    int last_errno = EADDRNOTAVAIL;
    for (addrinfo* ai = res.head; ai != nullptr; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, backlog) == 0) {
            return fd;
        }
        last_errno = errno;
        ::close(fd);
    }
    return {errc::bind_failed, last_errno};
}

uint16_t local_port(int fd) noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return 0;
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
    return 0;
}

} // namespace ringbolt::uring
