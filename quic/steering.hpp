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

/// The length of the connection IDs we issue (quic::endpoint::cid_len), and their second
/// byte: the first (the position) xor this mark. A long header whose DCID has another
/// length, or a 16-byte one without the mark (quiche's clients choose 16 random bytes; 1 in
/// 256 of those pass for ours), carries a client's own choice (Initial, 0-RTT).
constexpr unsigned steered_cid_len = 16;
constexpr uint8_t steered_cid_mark = 0xA5;

/// The program for a group of `total` sockets (1..max_steered_sockets), in the order they
/// joined the group. For UDP the kernel runs it on the UDP payload (offset 0 is the QUIC
/// packet's first byte). RFC 9000 §17.2-17.3: a short header (first bit 0) has the
/// destination connection ID at byte 1; a long header its length at byte 5 and the ID from
/// byte 6. Our IDs name their socket: dcid[0] % total. A client's own DCID (a long header
/// whose DCID is not one of ours by length and mark: a new client's Initial, its
/// retransmits, 0-RTT) goes to live[dcid[0] % live.size()], so new clients reach only the sockets of workers
/// that serve; with `live` empty or naming every socket, to dcid[0] % total. Either way a
/// client's Initials meet on one socket while `live` stays the same.
std::vector<sock_filter> steering_program(unsigned total, const std::vector<unsigned>& live = {});

/// Attaches steering_program(total, live) to the SO_REUSEPORT group `fd` belongs to
/// (SO_ATTACH_REUSEPORT_CBPF, Linux 4.5), replacing any program there. EINVAL for a
/// `total` out of range; the kernel's errno where it refuses the program.
core::result<void> attach_steering(int fd, unsigned total, const std::vector<unsigned>& live = {}) noexcept;

} // namespace ringbolt::quic
