// getaddrinfo + socket/bind/listen with SO_REUSEPORT and TCP_NODELAY (inherited by
// accepted sockets on Linux, so no per-connection setsockopt).
#include "uring/listener.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::uring {

result<int> open_listener(const std::string& host, uint16_t port, int backlog) noexcept {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    char port_str[8];
    std::snprintf(port_str, sizeof(port_str), "%u", port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_str, &hints, &res);
    if (rc != 0) {
        return {errc::bind_failed, EADDRNOTAVAIL};
    }
    int last_errno = EADDRNOTAVAIL;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
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
            freeaddrinfo(res);
            return fd;
        }
        last_errno = errno;
        ::close(fd);
    }
    freeaddrinfo(res);
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
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

} // namespace ringbolt::uring
