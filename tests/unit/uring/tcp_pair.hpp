// A connected TCP pair on 127.0.0.1 for the io backends' tests: TCP where a test needs what a
// socketpair lacks (a reset, segments, MSG_MORE).
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::uring::testing {

/// `ours` is the accepted end (accept4 with `accept_flags`), `peer` the connecting one.
/// Fails the test (ASSERT) when a step does; call it from SetUp or a test body.
inline void make_tcp_pair(int& ours, int& peer, int accept_flags) {
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(lfd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(::listen(lfd, 1), 0);
    ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(::connect(peer, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ours = ::accept4(lfd, nullptr, nullptr, accept_flags);
    ::close(lfd);
    ASSERT_GE(ours, 0);
}

} // namespace ringbolt::uring::testing
