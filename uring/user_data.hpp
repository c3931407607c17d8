// All io_uring user_data encoding: op (8 bits) | generation (16) | slot (24) | spare (16).
// The generation lets a late completion for a reused connection slot be recognised
// and dropped. A datagram send names its message instead: op (8) | address (56).
#pragma once

#include <cassert>
#include <cstdint>

namespace ringbolt::uring {

enum class op : uint8_t {
    accept = 1,     ///< multishot accept on the listener
    recv = 2,       ///< multishot recv on a connection (buffer select), or one recv into its body (arm_recv_into)
    send = 3,       ///< send of a connection's output
    wake = 4,       ///< read of the reactor's eventfd
    cancel = 5,     ///< async cancel (its own completion is ignored)
    poll = 6,       ///< one-shot POLLOUT on a connection (file ranges wait for room)
    dgram_recv = 7, ///< multishot recvmsg on a datagram socket (slot: its id)
    dgram_send = 8, ///< sendmsg of a datagram batch (the message's address)
};

inline constexpr uint32_t slot_bits = 24;
inline constexpr uint32_t max_slots = 1u << slot_bits;

struct decoded_user_data {
    op kind;
    uint16_t gen;
    uint32_t slot;
};

constexpr uint64_t encode_user_data(op kind, uint32_t slot = 0, uint32_t gen = 0) noexcept {
    return (static_cast<uint64_t>(kind) << 56) | (static_cast<uint64_t>(gen & 0xffffu) << 40) |
           (static_cast<uint64_t>(slot & (max_slots - 1)) << 16);
}

constexpr decoded_user_data decode_user_data(uint64_t v) noexcept {
    return {static_cast<op>(v >> 56), static_cast<uint16_t>((v >> 40) & 0xffffu),
            static_cast<uint32_t>((v >> 16) & (max_slots - 1))};
}

/// An object the caller keeps alive until its completion. User-space addresses fit in
/// 56 bits: x86-64 (47, or 56 with 5-level paging) and arm64 (at most 52).
inline uint64_t encode_user_pointer(op kind, const void* p) noexcept {
    uint64_t v = reinterpret_cast<uintptr_t>(p);
    assert((v >> 56) == 0);
    return (static_cast<uint64_t>(kind) << 56) | v;
}

template <typename T> T* decode_user_pointer(uint64_t v) noexcept {
    return reinterpret_cast<T*>(static_cast<uintptr_t>(v & ((uint64_t{1} << 56) - 1)));
}

static_assert(decode_user_data(encode_user_data(op::send, 123456, 789)).slot == 123456);
static_assert(decode_user_data(encode_user_data(op::send, 123456, 789)).gen == 789);
static_assert(decode_user_data(encode_user_data(op::send, 123456, 789)).kind == op::send);

} // namespace ringbolt::uring
