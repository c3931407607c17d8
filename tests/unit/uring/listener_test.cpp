// The listener's address probe: a port someone listens on (with or without
// SO_REUSEPORT) is refused; a free one, and one with connections in TIME_WAIT, is not.
// Datagram sockets: non-blocking, on the host's family, sharing a port only with
// SO_REUSEPORT, GRO only when asked.
#include "uring/listener.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::uring {
namespace {

TEST(Listener, ProbeRefusesAPortSomeoneListensOn) {
    core::result<int> first = open_listener("127.0.0.1", 0, 16); // SO_REUSEPORT, like every reactor's
    ASSERT_TRUE(first.ok());
    uint16_t port = local_port(first.value());
    ASSERT_NE(port, 0);
    core::result<void> probe = probe_address_free("127.0.0.1", port);
    EXPECT_FALSE(probe.ok());
    EXPECT_EQ(probe.sys_errno(), EADDRINUSE);
    ::close(first.value());
    EXPECT_TRUE(uring::probe_address_free("127.0.0.1", port).ok());
}

TEST(Listener, LocalPortOfANonInetSocketIsZero) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(local_port(fd), 0);
    ::close(fd);
}

TEST(DatagramSocket, SharesItsPortOnlyWithReuseport) {
    struct port_case {
        const char* host;
        int family;
        bool reuseport;
    };
    const port_case cases[] = {
        {"127.0.0.1", AF_INET, true},
        {"127.0.0.1", AF_INET, false},
        {"::1", AF_INET6, true},
        {"::1", AF_INET6, false},
    };
    for (const port_case& c : cases) {
        SCOPED_TRACE(std::string(c.host) + (c.reuseport ? " with SO_REUSEPORT" : " without SO_REUSEPORT"));
        datagram_options opts;
        opts.reuseport = c.reuseport;
        core::result<datagram_socket> first = uring::open_datagram_socket(c.host, 0, opts);
        if (c.family == AF_INET6 && !first.ok() && first.sys_errno() == EADDRNOTAVAIL) {
            GTEST_SKIP() << "SKIPPED LOUDLY: no IPv6 loopback on this machine";
        }
        ASSERT_TRUE(first.ok()) << first.sys_errno();
        const datagram_socket& s = first.value();
        EXPECT_EQ(s.family, c.family);
        EXPECT_NE(s.port, 0);
        EXPECT_EQ(s.port, local_port(s.fd));
        EXPECT_NE(fcntl(s.fd, F_GETFL) & O_NONBLOCK, 0) << "the epoll backend reads until EAGAIN";
        int type = 0;
        socklen_t len = sizeof(type);
        ASSERT_EQ(getsockopt(s.fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
        EXPECT_EQ(type, SOCK_DGRAM);
        int gro = 0;
        len = sizeof(gro);
        if (s.gro) {
            ASSERT_EQ(getsockopt(s.fd, SOL_UDP, UDP_GRO, &gro, &len), 0);
            EXPECT_EQ(gro, 1);
        }
        core::result<datagram_socket> second = open_datagram_socket(c.host, s.port, opts);
        EXPECT_EQ(second.ok(), c.reuseport);
        if (second.ok()) {
            EXPECT_EQ(second.value().port, s.port);
            ::close(second.value().fd);
        } else {
            EXPECT_EQ(second.sys_errno(), EADDRINUSE);
        }
        ::close(s.fd);
    }
}

long sysctl_value(const char* path) {
    std::FILE* f = std::fopen(path, "r");
    long v = -1;
    if (f != nullptr) {
        if (std::fscanf(f, "%ld", &v) != 1) {
            v = -1;
        }
        std::fclose(f);
    }
    return v;
}

// A receive buffer as asked: past net.core.rmem_max too where the process may force it
// (root here; elsewhere capped at rmem_max); none asked: the kernel's default.
TEST(DatagramSocket, ReceiveBufferAsAsked) {
    long rmem_max = sysctl_value("/proc/sys/net/core/rmem_max");
    long rmem_default = sysctl_value("/proc/sys/net/core/rmem_default");
    ASSERT_GT(rmem_max, 0);
    datagram_options opts;
    opts.receive_buffer = 4 << 20;
    core::result<datagram_socket> s = uring::open_datagram_socket("127.0.0.1", 0, opts);
    ASSERT_TRUE(s.ok());
    int have = 0;
    socklen_t len = sizeof(have);
    ASSERT_EQ(getsockopt(s.value().fd, SOL_SOCKET, SO_RCVBUF, &have, &len), 0);
    EXPECT_EQ(s.value().receive_buffer, have);
    long want = geteuid() == 0 ? long{4 << 20} : std::min<long>(4 << 20, rmem_max);
    EXPECT_GE(have / 2, want) << "rmem_max " << rmem_max;
    ::close(s.value().fd);

    core::result<datagram_socket> plain = open_datagram_socket("127.0.0.1", 0, datagram_options{});
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain.value().receive_buffer, rmem_default); // (reported as is: not doubled)
    ::close(plain.value().fd);
}

TEST(DatagramSocket, GroOnlyWhenAsked) {
    datagram_options opts;
    opts.gro = false;
    core::result<datagram_socket> s = uring::open_datagram_socket("127.0.0.1", 0, opts);
    ASSERT_TRUE(s.ok());
    EXPECT_FALSE(s.value().gro);
    int gro = -1;
    socklen_t len = sizeof(gro);
    if (getsockopt(s.value().fd, SOL_UDP, UDP_GRO, &gro, &len) == 0) {
        EXPECT_EQ(gro, 0);
    }
    ::close(s.value().fd);
}

} // namespace
} // namespace ringbolt::uring
