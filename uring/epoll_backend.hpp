// The epoll fallback: same completion-style interface as io_uring, emulated with
// readiness. Used when io_uring is blocked or missing, or with RINGBOLT_IO=epoll.
// Level-triggered; one read per ready socket per turn (fair across connections).
// Datagram sockets: recvmmsg on readability, sendmmsg with UDP GSO, a full socket waits
// for EPOLLOUT (epoll_datagrams.cpp).
#pragma once

#include "uring/backend.hpp"

#include <cstdint>
#include <sys/socket.h>
#include <vector>

namespace ringbolt::uring {

class epoll_backend final : public io_backend {
  public:
    ~epoll_backend() override;
    RINGBOLT_KERNEL_BACKEND_OVERRIDES
    void forget(int fd) noexcept override;
    bool submit() noexcept override { return !_pending.empty() || dgram_completions_due(); }
    int poll_fd() const noexcept override { return _epfd; }
    const char* name() const noexcept override { return "epoll"; }

  private:
    struct fd_state {
        uint32_t slot = 0;
        uint16_t gen = 0;
        bool registered = false;
        bool reading = false;
        bool want_writable = false;       ///< poll_writable: report EPOLLOUT
        const msghdr* send_msg = nullptr; ///< pending send (waiting for EPOLLOUT)
        bool send_more = false;           ///< that send's MSG_MORE
        uint32_t events = 0;              ///< what the epoll set has for it (update() skips no-op changes)
        char* room = nullptr;             ///< arm_recv_into: read into this (`room_len` bytes), once
        size_t room_len = 0;
    };
    fd_state& state(int fd);
    void update(int fd, fd_state& st) noexcept;
    void try_send(int fd, fd_state& st) noexcept;
    /// Take the listener out of the set; on_accept_end(res) follows in the next wait.
    void end_accept(int res) noexcept;

    /// A datagram socket's epoll tag: this bit and its id (the listener's and the wake
    /// fd's tags are checked first; a connection's tag is its fd, below 2^31).
    static constexpr uint64_t dgram_tag = 1ull << 62;
    struct dgram_state {
        datagram_socket sock;
        bool registered = false; ///< in the epoll set
        bool reading = false;
        std::vector<datagram_send*> queue; ///< batches not fully sent, oldest first
        size_t next = 0;                   ///< queue.front()'s first unsent message
    };
    struct dgram_slot { ///< one recvmmsg entry's name and control room
        sockaddr_storage name;
        alignas(cmsghdr) unsigned char control[datagram_buffers::control_room];
    };
    bool dgram_completions_due() const noexcept { return !_dgrams_sent.empty() || !_dgram_ends.empty(); }
    void update_dgram(uint32_t id) noexcept;
    void on_dgram_ready(uint32_t id, uint32_t ready, io_events& events) noexcept;
    void read_datagrams(uint32_t id, io_events& events) noexcept;
    void flush_datagrams(uint32_t id) noexcept;
    void report_datagram_completions(io_events& events) noexcept;

    int _epfd = -1;
    int _wake_fd = -1;
    int _listen_fd = -1;
    std::vector<fd_state> _fds;                ///< indexed by fd
    std::vector<deferred_completion> _pending; ///< completions known before the wait (sends done, cancels)
    std::vector<char> _scratch;                ///< one receive buffer: bytes are consumed inside on_recv
    std::vector<int> _reads_done;     ///< fds whose arm_recv_into ended in this wait (EPOLLIN off unless re-armed)
    std::vector<dgram_state> _dgrams; ///< by datagram socket id
    std::vector<datagram_send*> _dgrams_sent; ///< batches done, reported in the next wait
    std::vector<uint32_t> _dgram_ends;        ///< cancelled receives, reported in the next wait
    std::vector<datagram_send*> _dgrams_sent_now;
    std::vector<uint32_t> _dgram_ends_now;
    std::vector<char> _dgram_buf; ///< recvmmsg payload buffers, back to back
    std::vector<mmsghdr> _dgram_hdrs;
    std::vector<iovec> _dgram_iov;
    std::vector<dgram_slot> _dgram_slots;
};

} // namespace ringbolt::uring
