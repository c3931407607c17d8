// The uring tests' socketpairs: our ends (connection slot i is ours[i], armed on the
// backend) and the peers' ends the test writes and reads; all closed when they go.
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringbolt::uring::testing {

struct socket_pairs {
    std::vector<int> ours;
    std::vector<int> peers;

    socket_pairs() = default;
    socket_pairs(const socket_pairs&) = delete;
    socket_pairs& operator=(const socket_pairs&) = delete;
    ~socket_pairs() { close_all(); }

    /// One more AF_UNIX stream pair (SOCK_CLOEXEC | `flags`). False, with a test failure
    /// recorded, when socketpair failed.
    bool add(int flags = 0) {
        int sv[2];
        bool made = ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, sv) == 0;
        EXPECT_TRUE(made) << "socketpair: " << errno;
        if (made) {
            ours.push_back(sv[0]);
            peers.push_back(sv[1]);
        }
        return made;
    }

    /// Our ends shut: the multishot recvs armed on them end (before the ring goes).
    void shutdown_ours() const {
        for (int fd : ours) {
            ::shutdown(fd, SHUT_RDWR);
        }
    }

    void close_all() {
        for (std::vector<int>* ends : {&ours, &peers}) {
            for (int fd : *ends) {
                ::close(fd);
            }
            ends->clear();
        }
    }
};

} // namespace ringbolt::uring::testing
