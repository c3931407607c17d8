// The QUIC steering program (steering.hpp): classic BPF, so it loads without privileges and
// on every kernel with SO_ATTACH_REUSEPORT_CBPF.
#include "quic/steering.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51 // <asm-generic/socket.h>, Linux 4.5
#endif

namespace ringbolt::quic {

namespace {

sock_filter stmt(uint16_t code, uint32_t k) {
    return sock_filter BPF_STMT(code, k);
}

sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
    return sock_filter BPF_JUMP(code, k, jt, jf);
}

} // namespace

std::vector<sock_filter> steering_program(unsigned total, const std::vector<unsigned>& live) {
    // A load past the end of the packet would end a classic program with 0 (socket 0):
    // lengths are checked first, so a short datagram gets "no choice" instead. Jumps go
    // forward only, by at most 255: "no choice" (19) sits before the table of live sockets.
    std::vector<sock_filter> p = {
        /* 0 */ stmt(BPF_LD | BPF_W | BPF_LEN, 0),
        /* 1 */ jump(BPF_JMP | BPF_JGE | BPF_K, 2, 0, 17), // < 2 bytes: no choice (19)
        /* 2 */ stmt(BPF_LD | BPF_B | BPF_ABS, 0),
        /* 3 */ jump(BPF_JMP | BPF_JSET | BPF_K, 0x80, 2, 0), // a long header: 6
        /* 4 */ stmt(BPF_LD | BPF_B | BPF_ABS, 1),            // short: dcid[0], always one of ours
        /* 5 */ stmt(BPF_JMP | BPF_JA, 11),                   // 17
        /* 6 */ stmt(BPF_LD | BPF_W | BPF_LEN, 0),
        /* 7 */ jump(BPF_JMP | BPF_JGE | BPF_K, 8, 0, 11),               // < 8 bytes: no choice (19)
        /* 8 */ stmt(BPF_LD | BPF_B | BPF_ABS, 5),                       // the DCID's length
        /* 9 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 9, 0),                // none: no choice (19)
        /* 10 */ jump(BPF_JMP | BPF_JEQ | BPF_K, steered_cid_len, 0, 9), // not ours: 20
        /* 11 */ stmt(BPF_LD | BPF_B | BPF_ABS, 7),                      // dcid[1]
        /* 12 */ stmt(BPF_ALU | BPF_XOR | BPF_K, steered_cid_mark),
        /* 13 */ stmt(BPF_MISC | BPF_TAX, 0),
        /* 14 */ stmt(BPF_LD | BPF_B | BPF_ABS, 6),        // dcid[0]
        /* 15 */ jump(BPF_JMP | BPF_JEQ | BPF_X, 0, 1, 0), // marked: ours, 17
        /* 16 */ stmt(BPF_JMP | BPF_JA, 3),                // a client's: 20
        /* 17 */ stmt(BPF_ALU | BPF_MOD | BPF_K, total),
        /* 18 */ stmt(BPF_RET | BPF_A, 0),
        /* 19 */ stmt(BPF_RET | BPF_K, steer_no_choice),
        /* 20 */ stmt(BPF_LD | BPF_B | BPF_ABS, 6), // a client's own DCID (Initial, 0-RTT): dcid[0]
    };
    std::vector<unsigned> up;
    for (unsigned pos : live) {
        if (pos < total && std::find(up.begin(), up.end(), pos) == up.end()) {
            up.push_back(pos);
        }
    }
    if (up.empty() || up.size() == total) {
        p.push_back(stmt(BPF_ALU | BPF_MOD | BPF_K, total)); // every socket (or none) is up
        p.push_back(stmt(BPF_RET | BPF_A, 0));
        return p;
    }
    // Only the live sockets take new clients: dcid[0] % live, then its position.
    p.push_back(stmt(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(up.size())));
    for (size_t n = 0; n < up.size(); ++n) {
        p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(n), 0, 1));
        p.push_back(stmt(BPF_RET | BPF_K, up[n]));
    }
    p.push_back(stmt(BPF_RET | BPF_K, steer_no_choice));
    return p;
}

core::result<void> attach_steering(int fd, unsigned total, const std::vector<unsigned>& live) noexcept {
    if (total == 0 || total > max_steered_sockets) {
        return {core::errc::invalid_argument, EINVAL};
    }
    std::vector<sock_filter> program;
    try {
        program = steering_program(total, live);
    } catch (...) {
        return {core::errc::system, ENOMEM};
    }
    sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) != 0) {
        return {core::errc::system, errno};
    }
    return {};
}

} // namespace ringbolt::quic
