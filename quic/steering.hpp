// Steering a QUIC datagram to the socket of the SO_REUSEPORT group that owns its connection:
// a classic BPF program that reads the first byte of the packet's destination connection ID
// (ours carry the owning socket's position there, endpoint_config::group_position) and
// returns it modulo the group's size. The one builder: the native server attaches it to the
// UDP sockets it binds, and the supervisor to its workers' (ringbolt._native.steer_quic).
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <linux/filter.h>
#include <vector>

namespace ringbolt::quic {

/// Positions a connection ID's first byte can name: the largest group steering can serve.
constexpr unsigned max_steered_sockets = 256;
/// What the program returns for a datagram it cannot read (too short, a long header with
/// no connection ID): an index past the group, so the kernel picks by its 4-tuple hash.
constexpr uint32_t steer_no_choice = 0xFFFFFFFF;

/// The program for a group of `total` sockets (1..max_steered_sockets), in the order they
/// joined the group. For UDP the kernel runs it on the UDP payload (offset 0 is the QUIC
/// packet's first byte). RFC 9000 §17.2-17.3: a short header (first bit 0) has the
/// destination connection ID at byte 1; a long header its length at byte 5 and the ID from
/// byte 6. Returns dcid[0] % total: our IDs name their socket, and a client's random
/// Initial DCID maps to one fixed socket too, so its retransmits and second Initial meet.
std::vector<sock_filter> steering_program(unsigned total);

/// Attaches steering_program(total) to the SO_REUSEPORT group `fd` belongs to
/// (SO_ATTACH_REUSEPORT_CBPF, Linux 4.5), replacing any program there. EINVAL for a
/// `total` out of range; the kernel's errno where it refuses the program.
result<void> attach_steering(int fd, unsigned total) noexcept;

} // namespace ringbolt::quic
