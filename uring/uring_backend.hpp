// The io_uring backend: one ring (SINGLE_ISSUER|DEFER_TASKRUN where offered, COOP_TASKRUN
// when its event loop hosts the reactor and a standby thread may take the ring over),
// multishot accept, multishot recv into the receive ring (recv_ring.hpp), sends, and one
// submit-and-wait per loop turn. Datagram sockets: multishot recvmsg into a buffer ring
// of their own, sendmsg with UDP GSO (uring_datagrams.cpp).
#pragma once

#include "uring/backend.hpp"
#include "uring/buffer_ring.hpp"
#include "uring/recv_ring.hpp"
#include "uring/ring.hpp"

#include <sys/socket.h>
#include <vector>

namespace ringbolt::uring {

/// The most bytes one multishot recv of a connection takes before it ends and is armed
/// again (the kernel's total limit, IORING_OP_RECV's `optlen`, 6.17+; ring_features::
/// recv_limit; where the kernel refuses it the recv goes on without). Unbounded, the recv
/// that read a request's head went on taking the body behind it into the 4 KiB ring
/// buffers while the reactor was busy elsewhere, megabytes of a fast upload before the head
/// was parsed and the body could be received straight into its own blocks; those pieces
/// were then copied there. Bounded, at most this much of a body comes through the ring. A
/// re-arm per 64 KiB of ordinary requests costs one read that finds the socket empty.
constexpr unsigned multishot_recv_limit = 64 * 1024;

class uring_backend final : public io_backend {
  public:
    ~uring_backend() override;
    RINGBOLT_KERNEL_BACKEND_OVERRIDES
    void forget(int) noexcept override {}
    bool submit() noexcept override;
    int poll_fd() const noexcept override { return _ring.ring_fd; }
    const char* name() const noexcept override { return "io_uring"; }
    void on_second() noexcept override;

    /// What the receive ring holds now (tests).
    recv_ring_stats receive_buffers() const noexcept { return _buffers.stats(true); }
    const recv_ring_plan& receive_plan() const noexcept { return _buffers.layout(); }

    /// Operations prepared while the kernel refused to take the SQ, waiting for wait().
    size_t unsubmitted() const noexcept { return _unsubmitted.size(); }
    /// The completion queue's entries now (tests).
    unsigned cq_entries() const noexcept { return _cq_entries; }

  private:
    /// Never null: an SQE of the ring, or a side slot when the ring cannot take more.
    io_uring_sqe* get_sqe() noexcept;
    /// Copy held ops into the ring in order (submitting to make room); true when none is left.
    bool move_unsubmitted() noexcept;
    void arm_wake() noexcept;
    void dispatch(const io_uring_cqe* cqe, io_events& events) noexcept;

    struct dgram_state {
        datagram_socket sock;
        uint16_t gen = 0;
        bool armed = false;
        bool cancelling = false;
    };
    void arm_dgram_recv(uint32_t id) noexcept;
    void on_dgram_recv(const io_uring_cqe* cqe, io_events& events) noexcept;
    void on_dgram_send(const io_uring_cqe* cqe, io_events& events) noexcept;

    io_uring _ring{};
    bool _ring_ok = false;
    recv_ring _buffers;
    /// By connection slot: which of the receive ring's two generations its multishot recv
    /// was armed on (one that ends with ENOBUFS on a replaced ring is re-armed, not a dry ring).
    std::vector<uint8_t> _recv_generation;
    ring_features _features;
    int _wake_fd = -1;
    uint64_t _wake_buf = 0;
    std::vector<io_uring_sqe> _unsubmitted; ///< prepared, not yet in the ring (oldest first)
    buffer_ring _dgram_buffers;             ///< group 2: datagram sockets only
    msghdr _dgram_msg{};                    ///< the layout multishot recvmsg writes (name, control room)
    std::vector<dgram_state> _dgrams;       ///< by datagram socket id
    /// Multishot recvs carry multishot_recv_limit; cleared when the kernel refuses it.
    bool _recv_limit = true;
    /// The CQ's entries now and at most (cq_entries_for): it starts small where the kernel
    /// can resize it, and grows (x4) after a wait that found it overflowed (_cq_grow).
    unsigned _cq_entries = 0;
    unsigned _cq_max = 0;
    bool _cq_grow = false;
    void grow_cq() noexcept;
};

} // namespace ringbolt::uring
