// The listener's address probe: a port someone listens on (with or without
// SO_REUSEPORT) is refused; a free one, and one with connections in TIME_WAIT, is not.
#include "uring/listener.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::uring {
namespace {

TEST(Listener, ProbeRefusesAPortSomeoneListensOn) {
    result<int> first = open_listener("127.0.0.1", 0, 16); // SO_REUSEPORT, like every reactor's
    ASSERT_TRUE(first.ok());
    uint16_t port = local_port(first.value());
    ASSERT_NE(port, 0);
    result<void> probe = probe_address_free("127.0.0.1", port);
    EXPECT_FALSE(probe.ok());
    EXPECT_EQ(probe.sys_errno(), EADDRINUSE);
    ::close(first.value());
    EXPECT_TRUE(probe_address_free("127.0.0.1", port).ok());
}

TEST(Listener, LocalPortOfANonInetSocketIsZero) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(local_port(fd), 0);
    ::close(fd);
}

} // namespace
} // namespace ringbolt::uring
