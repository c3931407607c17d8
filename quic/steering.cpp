// The QUIC steering program (steering.hpp): classic BPF, so it loads without privileges and
// on every kernel with SO_ATTACH_REUSEPORT_CBPF.
#include "quic/steering.hpp"

#include <cerrno>
#include <sys/socket.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51 // <asm-generic/socket.h>, Linux 4.5
#endif

namespace ringbolt::quic {

std::vector<sock_filter> steering_program(unsigned total) {
    // A load past the end of the packet would end a classic program with 0 (socket 0):
    // lengths are checked first, so a short datagram gets "no choice" instead.
    const auto stmt = [](uint16_t code, uint32_t k) { return sock_filter BPF_STMT(code, k); };
    const auto jump = [](uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
        return sock_filter BPF_JUMP(code, k, jt, jf);
    };
    return {
        /* 0 */ stmt(BPF_LD | BPF_W | BPF_LEN, 0),
        /* 1 */ jump(BPF_JMP | BPF_JGE | BPF_K, 2, 0, 11), // < 2 bytes: no choice (13)
        /* 2 */ stmt(BPF_LD | BPF_B | BPF_ABS, 0),
        /* 3 */ jump(BPF_JMP | BPF_JSET | BPF_K, 0x80, 2, 0), // a long header: 6
        /* 4 */ stmt(BPF_LD | BPF_B | BPF_ABS, 1),            // short: dcid[0]
        /* 5 */ stmt(BPF_JMP | BPF_JA, 5),                    // 11
        /* 6 */ stmt(BPF_LD | BPF_W | BPF_LEN, 0),
        /* 7 */ jump(BPF_JMP | BPF_JGE | BPF_K, 7, 0, 5), // < 7 bytes: no choice (13)
        /* 8 */ stmt(BPF_LD | BPF_B | BPF_ABS, 5),        // the DCID's length
        /* 9 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0), // none: no choice (13)
        /* 10 */ stmt(BPF_LD | BPF_B | BPF_ABS, 6),       // dcid[0]
        /* 11 */ stmt(BPF_ALU | BPF_MOD | BPF_K, total),
        /* 12 */ stmt(BPF_RET | BPF_A, 0),
        /* 13 */ stmt(BPF_RET | BPF_K, steer_no_choice),
    };
}

result<void> attach_steering(int fd, unsigned total) noexcept {
    if (total == 0 || total > max_steered_sockets) {
        return {errc::invalid_argument, EINVAL};
    }
    std::vector<sock_filter> program = steering_program(total);
    sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) != 0) {
        return {errc::system, errno};
    }
    return {};
}

} // namespace ringbolt::quic
