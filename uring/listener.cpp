// getaddrinfo + socket/bind/listen with SO_REUSEPORT and TCP_NODELAY (inherited by
// accepted sockets on Linux, so no per-connection setsockopt), and the probe that
// keeps a second server from joining a port someone already serves. UDP sockets with
// their receive options, GRO, and the GSO probe.
#include "uring/listener.hpp"

#include "core/log.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <iterator>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <string>
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

int resolve(const std::string& host, uint16_t port, int socktype, addrinfo_list& out) noexcept {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port_str[8];
    std::snprintf(port_str, sizeof(port_str), "%u", port);
    return getaddrinfo(host.empty() ? nullptr : host.c_str(), port_str, &hints, &out.head);
}

/// Each resolved address in turn: a socket (`socktype`) given to `use`, which returns 0 to
/// keep it or an errno to close it and try the next. The socket kept, or the last errno.
/// A stream socket gets SO_REUSEADDR (and `reuseport`: SO_REUSEPORT and TCP_NODELAY,
/// inherited by accepted sockets on Linux); a datagram socket is non-blocking and gets
/// SO_REUSEPORT only when asked (SO_REUSEADDR would let a second socket take its traffic).
template <typename Use>
core::result<int> bind_first_address(const std::string& host, uint16_t port, int socktype, bool reuseport, Use use) {
    addrinfo_list res;
    if (resolve(host, port, socktype, res) != 0) {
        return {core::errc::bind_failed, EADDRNOTAVAIL};
    }
    bool stream = socktype == SOCK_STREAM;
    int last_errno = EADDRNOTAVAIL;
    for (addrinfo* ai = res.head; ai != nullptr; ai = ai->ai_next) {
        int fd =
            ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (stream ? 0 : SOCK_NONBLOCK), ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        if (stream) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        }
        if (reuseport) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        }
        if (reuseport && stream) {
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
    return {core::errc::bind_failed, last_errno};
}

} // namespace

core::result<void> probe_address_free(const std::string& host, uint16_t port) noexcept {
    // The first address that binds is the one open_listener will use.
    core::result<int> probe = bind_first_address(host, port, SOCK_STREAM, false, [](int fd, const addrinfo& ai) {
        return ::bind(fd, ai.ai_addr, ai.ai_addrlen) == 0 ? 0 : errno;
    });
    if (!probe.ok()) {
        return {probe.error(), probe.sys_errno()};
    }
    ::close(probe.value());
    return {};
}

core::result<int> open_listener(const std::string& host, uint16_t port, int backlog) noexcept {
    return bind_first_address(host, port, SOCK_STREAM, true, [backlog](int fd, const addrinfo& ai) {
        return ::bind(fd, ai.ai_addr, ai.ai_addrlen) == 0 && ::listen(fd, backlog) == 0 ? 0 : errno;
    });
}

core::result<std::vector<int>> open_listeners(const std::string& host, uint16_t port, unsigned count,
                                              int backlog) noexcept {
    if (port != 0) {
        if (core::result<void> free = probe_address_free(host, port); !free.ok()) {
            return {free.error(), free.sys_errno()};
        }
    }
    std::vector<int> fds;
    for (unsigned i = 0; i < count; ++i) {
        core::result<int> fd = open_listener(host, port, backlog);
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

namespace {

/// Whether sendmsg takes UDP_SEGMENT (Linux 4.18), once per process: setting a default
/// segment size on a throwaway socket is refused (ENOPROTOOPT) where it is missing.
bool gso_supported() noexcept {
    static const bool supported = [] {
        for (int family : {AF_INET, AF_INET6}) {
            int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                continue;
            }
            int size = 1200;
            bool ok = setsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, sizeof(size)) == 0;
            ::close(fd);
            return ok;
        }
        return false;
    }();
    return supported;
}

/// SO_RCVBUF of `bytes` (0: left as it is), or SO_RCVBUFFORCE where rmem_max caps it and
/// the process may pass it; what the socket has then (as getsockopt reports it).
int set_receive_buffer(int fd, int bytes) noexcept {
    int have = 0;
    socklen_t len = sizeof(have);
    if (bytes > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
        if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len) == 0 && have / 2 < bytes) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)); // refused: EPERM
        }
    }
    len = sizeof(have);
    return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len) == 0 ? have : 0;
}

} // namespace

namespace {

/// What a bound datagram socket reports and offers (open_datagram_socket, adopt_datagram_socket).
void configure_datagram_socket(datagram_socket& sock, const datagram_options& options) noexcept {
    sock.port = local_port(sock.fd);
    int one = 1;
    // Where each datagram was sent (a wildcard bind answers from that address) and its
    // ECN bits. An IPv6 socket's IPv4 peers (v4-mapped) report their TOS with IP_RECVTOS
    // and their address with IPV6_PKTINFO.
    if (sock.family == AF_INET6) {
        setsockopt(sock.fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
        setsockopt(sock.fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one));
    } else {
        setsockopt(sock.fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    }
    setsockopt(sock.fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
    sock.gro = options.gro && setsockopt(sock.fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0; // Linux 5.0
    sock.gso = gso_supported();
    sock.receive_buffer = set_receive_buffer(sock.fd, options.receive_buffer);
    static std::atomic<bool> told{false};
    if (options.announce && !told.exchange(true)) {
        // (The kernel reports twice what was asked: half of it is bookkeeping.)
        bool short_of = options.receive_buffer > 0 && sock.receive_buffer / 2 < options.receive_buffer;
        core::log(short_of ? core::log_level::warning : core::log_level::info,
                  "UDP datagram sockets: GRO %s, GSO %s, receive buffer %d KiB%s%s",
                  sock.gro      ? "yes"
                  : options.gro ? "no"
                                : "not asked",
                  sock.gso ? "yes" : "no", sock.receive_buffer / 2 / 1024,
                  short_of ? " (net.core.rmem_max caps it; a burst may drop datagrams: raise it to " : "",
                  short_of ? (std::to_string(options.receive_buffer) + ")").c_str() : "");
    }
}

} // namespace

core::result<datagram_socket> open_datagram_socket(const std::string& host, uint16_t port,
                                                   const datagram_options& options) noexcept {
    datagram_socket sock;
    core::result<int> fd =
        bind_first_address(host, port, SOCK_DGRAM, options.reuseport, [&](int fd, const addrinfo& ai) {
            if (::bind(fd, ai.ai_addr, ai.ai_addrlen) != 0) {
                return errno;
            }
            sock.family = ai.ai_family;
            return 0;
        });
    if (!fd.ok()) {
        return {fd.error(), fd.sys_errno()};
    }
    sock.fd = fd.value();
    configure_datagram_socket(sock, options);
    return sock;
}

core::result<std::vector<datagram_socket>> open_datagram_group(const std::string& host, uint16_t port, unsigned count,
                                                               const datagram_options& options) noexcept {
    datagram_options opts = options;
    opts.reuseport = true;
    std::vector<datagram_socket> socks;
    for (unsigned i = 0; i < count; ++i) {
        core::result<datagram_socket> s = open_datagram_socket(host, port, opts);
        if (!s.ok()) {
            for (const datagram_socket& o : socks) {
                ::close(o.fd);
            }
            return {s.error(), s.sys_errno()};
        }
        if (port == 0) {
            port = s.value().port; // the others join the port the first one got
        }
        socks.push_back(s.value());
    }
    return socks;
}

core::result<datagram_socket> adopt_datagram_socket(int fd, const datagram_options& options) noexcept {
    int type = 0;
    socklen_t len = sizeof(type);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
        return {core::errc::system, errno};
    }
    sockaddr_storage ss{};
    socklen_t sslen = sizeof(ss);
    if (type != SOCK_DGRAM || ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sslen) != 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        return {core::errc::invalid_argument, EINVAL};
    }
    if (int flags = ::fcntl(fd, F_GETFL); flags >= 0 && !(flags & O_NONBLOCK)) {
        ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    datagram_socket sock;
    sock.fd = fd;
    sock.family = ss.ss_family;
    configure_datagram_socket(sock, options);
    return sock;
}

std::string describe_listen_failure(const std::string& host, uint16_t port, int sys_errno) {
    return "cannot listen on " + host + ":" + std::to_string(port) + ": " +
           (sys_errno == EADDRINUSE ? std::string("Address already in use (another process serves it)")
                                    : std::string(std::strerror(sys_errno)));
}

core::result<void> refuse_new_connections(int fd) noexcept {
    int type = 0;
    int domain = 0;
    int listening = 0;
    socklen_t len = sizeof(int);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
        return {core::errc::system, errno};
    }
    len = sizeof(int);
    ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
    len = sizeof(int);
    ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
    if (type != SOCK_STREAM || !listening) {
        return {core::errc::invalid_argument, EINVAL};
    }
    if (domain == AF_UNIX) {
        // A unix listener shut for reading refuses connect() at once (ECONNREFUSED) and
        // still hands out what it queued.
        if (::shutdown(fd, SHUT_RD) != 0) {
            return {core::errc::system, errno};
        }
        return {};
    }
    // TCP (shutdown would reset the queue): a socket filter on a TCP socket sees the
    // segment from its TCP header, whose byte 13 holds the flags. Drop SYN without ACK (a
    // new client); keep the rest (the ACK that completes a handshake under way).
    sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),          BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12), // SYN | ACK
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1), BPF_STMT(BPF_RET | BPF_K, 0), // a SYN alone: dropped
        BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFF),                                         // everything else, whole
    };
    sock_fprog fprog{static_cast<unsigned short>(std::size(program)), program};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) != 0) {
        return {core::errc::system, errno};
    }
    return {};
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

loopback_connection::loopback_connection() noexcept {
    _listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    _client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (_listener >= 0 && _client >= 0 && ::bind(_listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        ::listen(_listener, 1) == 0 && ::getsockname(_listener, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
        ::connect(_client, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
        _accepted = ::accept4(_listener, nullptr, nullptr, SOCK_CLOEXEC);
    }
    if (_accepted < 0) {
        _error = errno;
    }
}

loopback_connection::~loopback_connection() {
    for (int fd : {_accepted, _client, _listener}) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

} // namespace ringbolt::uring
