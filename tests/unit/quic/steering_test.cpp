// The QUIC steering program, run by the kernel: a group of UDP sockets on 127.0.0.1 with
// the program attached, datagrams whose destination connection ID's first byte names a
// position, each received on the socket at that position (short and long headers, bytes
// past the group's size wrapping around), a new client's Initial on a live socket only;
// datagrams the program cannot read still arrive.
#include "quic/steering.hpp"
#include "uring/listener.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace ringbolt::quic {
namespace {

constexpr unsigned group_size = 4;

struct steered_group {
    std::vector<uring::datagram_socket> socks;
    int client = -1;
    sockaddr_in to{};

    steered_group() {
        uring::datagram_options opts;
        opts.gro = false; // one datagram per receive
        core::result<std::vector<uring::datagram_socket>> g =
            uring::open_datagram_group("127.0.0.1", 0, group_size, opts);
        EXPECT_TRUE(g.ok()) << g.sys_errno();
        if (g.ok()) {
            socks = g.value();
        }
        client = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        to.sin_family = AF_INET;
        to.sin_port = htons(socks.empty() ? 0 : socks.front().port);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    ~steered_group() {
        for (const auto& s : socks) {
            ::close(s.fd);
        }
        ::close(client);
    }
    steered_group(const steered_group&) = delete;
    steered_group& operator=(const steered_group&) = delete;

    void send(const std::string& d) const {
        ASSERT_EQ(::sendto(client, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
                  static_cast<ssize_t>(d.size()));
    }

    /// The position of the socket that received `d` (waits up to a second), -1: none did.
    int receiver_of(const std::string& d) const {
        std::vector<pollfd> fds;
        for (const auto& s : socks) {
            fds.push_back({s.fd, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), 1000) <= 0) {
            return -1;
        }
        int who = -1;
        for (size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents & POLLIN) {
                char buf[2048];
                ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
                EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), d);
                EXPECT_EQ(who, -1) << "one datagram, one receiver";
                who = static_cast<int>(i);
            }
        }
        return who;
    }
};

std::string short_header(uint8_t dcid0) {
    std::string d(40, '\x5a');
    d[0] = '\x41'; // fixed bit, short header
    d[1] = static_cast<char>(dcid0);
    return d;
}

std::string long_header(uint8_t dcid0, uint8_t dcid_len = 8) {
    std::string d("\xc0\x00\x00\x00\x01", 5); // Initial, QUIC v1
    d += static_cast<char>(dcid_len);
    d += std::string(dcid_len, '\x33');
    if (dcid_len > 0) {
        d[6] = static_cast<char>(dcid0);
    }
    d += std::string(1200 - d.size(), '\0');
    return d;
}

/// A long header to one of our connection IDs: 16 bytes, the second the first xor the mark.
std::string long_header_to_ours(uint8_t dcid0) {
    std::string d = long_header(dcid0, steered_cid_len);
    d[7] = static_cast<char>(dcid0 ^ steered_cid_mark);
    return d;
}

TEST(QuicSteering, ShortHeaderReachesTheSocketItsConnectionIdNames) {
    steered_group g;
    ASSERT_EQ(g.socks.size(), group_size);
    ASSERT_TRUE(attach_steering(g.socks.front().fd, group_size).ok());
    // Each position several times over (the kernel's hash would have spread one 4-tuple's
    // datagrams to one socket only), and bytes past the group wrap around.
    for (int round = 0; round < 3; ++round) {
        for (unsigned byte = 0; byte < 2 * group_size; ++byte) {
            std::string d = short_header(static_cast<uint8_t>(byte));
            g.send(d);
            EXPECT_EQ(g.receiver_of(d), static_cast<int>(byte % group_size)) << "dcid[0] " << byte;
        }
    }
}

TEST(QuicSteering, LongHeaderReachesTheSocketItsConnectionIdNames) {
    steered_group g;
    ASSERT_EQ(g.socks.size(), group_size);
    ASSERT_TRUE(attach_steering(g.socks.front().fd, group_size).ok());
    for (unsigned byte : {0u, 1u, 2u, 3u, 7u, 254u, 255u}) {
        std::string d = long_header(static_cast<uint8_t>(byte));
        g.send(d);
        EXPECT_EQ(g.receiver_of(d), static_cast<int>(byte % group_size)) << "dcid[0] " << byte;
    }
    // The DCID's first byte decides, not its length or the rest (a 20-byte ID, ours).
    for (const std::string& d : {long_header(2, 20), long_header_to_ours(2), long_header(2, steered_cid_len)}) {
        g.send(d);
        EXPECT_EQ(g.receiver_of(d), 2);
    }
}

TEST(QuicSteering, NewClientsGoToLiveSocketsOnlyAndOurIdsStillWin) {
    steered_group g;
    ASSERT_EQ(g.socks.size(), group_size);
    const std::vector<unsigned> live = {1, 3}; // the sockets of workers that serve
    ASSERT_TRUE(attach_steering(g.socks.front().fd, group_size, live).ok());
    for (unsigned byte = 0; byte < 8; ++byte) {
        SCOPED_TRACE("dcid[0] " + std::to_string(byte));
        // A client's own DCID (8 bytes, as clients choose): one of the live sockets, the
        // same one for the same first byte.
        std::string initial = long_header(static_cast<uint8_t>(byte), 8);
        g.send(initial);
        EXPECT_EQ(g.receiver_of(initial), static_cast<int>(live[byte % live.size()]));
        // Our IDs (16 bytes, marked) name their socket, live or not: a long header (a
        // client's Initial or Handshake after ours) and a short one.
        std::string handshake = long_header_to_ours(static_cast<uint8_t>(byte));
        g.send(handshake);
        EXPECT_EQ(g.receiver_of(handshake), static_cast<int>(byte % group_size));
        // A client's own 16-byte DCID (quiche's length) without the mark: a live socket.
        std::string sixteen = long_header(static_cast<uint8_t>(byte), steered_cid_len);
        g.send(sixteen);
        EXPECT_EQ(g.receiver_of(sixteen), static_cast<int>(live[byte % live.size()]));
        std::string shorter = short_header(static_cast<uint8_t>(byte));
        g.send(shorter);
        EXPECT_EQ(g.receiver_of(shorter), static_cast<int>(byte % group_size));
    }
    // Every socket live: the byte rule for everyone.
    ASSERT_TRUE(attach_steering(g.socks.front().fd, group_size, {0, 1, 2, 3}).ok());
    std::string initial = long_header(2, 8);
    g.send(initial);
    EXPECT_EQ(g.receiver_of(initial), 2);
}

TEST(QuicSteering, DatagramsWithoutAConnectionIdStillArrive) {
    steered_group g;
    ASSERT_EQ(g.socks.size(), group_size);
    ASSERT_TRUE(attach_steering(g.socks.front().fd, group_size).ok());
    // Too short for a short header's DCID, too short for a long header's, a long header
    // with an empty DCID, and an empty datagram: the kernel's hash picks, somewhere.
    const std::string cases[] = {std::string(1, '\x41'), std::string("\xc0\x00\x00\x00\x01\x08", 6),
                                 std::string("\xc0\x00\x00\x00\x01\x10\x00", 7), long_header(0, 0), std::string()};
    for (const std::string& d : cases) {
        g.send(d);
        int who = g.receiver_of(d);
        EXPECT_GE(who, 0) << "a " << d.size() << "-byte datagram was lost";
    }
}

TEST(QuicSteering, AGroupSizeOutOfRangeIsRefused) {
    steered_group g;
    ASSERT_FALSE(g.socks.empty());
    EXPECT_EQ(attach_steering(g.socks.front().fd, 0).sys_errno(), EINVAL);
    EXPECT_EQ(attach_steering(g.socks.front().fd, max_steered_sockets + 1).sys_errno(), EINVAL);
    EXPECT_TRUE(attach_steering(g.socks.front().fd, max_steered_sockets).ok());
}

TEST(QuicSteering, ProgramReadsLengthsBeforeBytes) {
    // Every byte load (BPF_LD|BPF_B|BPF_ABS k) comes after a length check that covers k:
    // a load past the packet would end the program with 0, socket 0, not "no choice".
    for (const std::vector<unsigned>& live : {std::vector<unsigned>{}, std::vector<unsigned>{0, 2}}) {
        std::vector<sock_filter> p = steering_program(3, live);
        uint32_t covered = 0;
        bool no_choice = false;
        for (const sock_filter& ins : p) {
            if (ins.code == (BPF_JMP | BPF_JGE | BPF_K)) {
                covered = ins.k;
            }
            if (ins.code == (BPF_LD | BPF_B | BPF_ABS)) {
                EXPECT_LT(ins.k, covered) << "byte " << ins.k << " read before the length covers it";
            }
            no_choice = no_choice || (ins.code == (BPF_RET | BPF_K) && ins.k == steer_no_choice);
        }
        EXPECT_TRUE(no_choice);
        EXPECT_EQ(p.back().code & BPF_CLASS(0xff), BPF_RET) << "no way falls off the end";
    }
}

} // namespace
} // namespace ringbolt::quic
