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

/// Each resolved address in turn: a socket with SO_REUSEADDR (and `reuseport`: SO_REUSEPORT
/// and TCP_NODELAY, inherited by accepted sockets on Linux) given to `use`, which returns
/// 0 to keep it or an errno to close it and try the next. The socket kept, or the last errno.
template <typename Use>
result<int> bind_first_address(const std::string& host, uint16_t port, bool reuseport, Use use) {
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
        if (reuseport) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        last_errno = use(fd, *ai);
        if (last_errno == 0) {
            return fd;
        }
        ::close(fd);
        if (last_errno == EADDRINUSE && !reuseport) {
            break; // the probe: someone listens there
        }
    }
    return {errc::bind_failed, last_errno};
}

} // namespace

result<void> probe_address_free(const std::string& host, uint16_t port) noexcept {
    // The first address that binds is the one open_listener will use.
    result<int> probe = bind_first_address(host, port, false, [](int fd, const addrinfo& ai) {
        return ::bind(fd, ai.ai_addr, ai.ai_addrlen) == 0 ? 0 : errno;
    });
    if (!probe.ok()) {
        return {probe.error(), probe.sys_errno()};
    }
    ::close(probe.value());
    return {};
}

result<int> open_listener(const std::string& host, uint16_t port, int backlog) noexcept {
    return bind_first_address(host, port, true, [backlog](int fd, const addrinfo& ai) {
        return ::bind(fd, ai.ai_addr, ai.ai_addrlen) == 0 && ::listen(fd, backlog) == 0 ? 0 : errno;
    });
}

result<std::vector<int>> open_listeners(const std::string& host, uint16_t port, unsigned count, int backlog) noexcept {
    if (port != 0) {
        if (result<void> free = probe_address_free(host, port); !free.ok()) {
            return {free.error(), free.sys_errno()};
        }
    }
    std::vector<int> fds;
    for (unsigned i = 0; i < count; ++i) {
        result<int> fd = open_listener(host, port, backlog);
        if (!fd.ok()) {
            for (int f : fds) {
                ::close(f);
            }
            return {fd.error(), fd.sys_errno()};
        }
        if (port == 0) {
            port = local_port(fd.value()); // the others share the port the first one got
        }
        fds.push_back(fd.value());
    }
    return fds;
}

std::string describe_listen_failure(const std::string& host, uint16_t port, int sys_errno) {
    return "cannot listen on " + host + ":" + std::to_string(port) + ": " +
           (sys_errno == EADDRINUSE ? std::string("Address already in use (another process serves it)")
                                    : std::string(std::strerror(sys_errno)));
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
