// The epoll fallback: same completion-style interface as io_uring, emulated with
// readiness. Used when io_uring is blocked or missing, or with RINGBOLT_IO=epoll.
// Level-triggered; one read per ready socket per turn (fair across connections).
#pragma once

#include "uring/backend.hpp"

#include <cstdint>
#include <sys/socket.h>
#include <vector>

namespace ringbolt::uring {

class epoll_backend final : public io_backend {
  public:
    ~epoll_backend() override;
    result<void> setup(const server_config& config, int wake_fd) noexcept override;
    void arm_accept(int listen_fd) noexcept override;
    void cancel_accept(int listen_fd) noexcept override;
    void arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept override;
    void cancel_recv(int fd, uint32_t slot, uint16_t gen) noexcept override;
    void send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg) noexcept override;
    void poll_writable(int fd, uint32_t slot, uint16_t gen) noexcept override;
    void forget(int fd) noexcept override;
    bool wait(unsigned timeout_ms, io_events& events) noexcept override;
    bool submit() noexcept override { return !_pending.empty(); }
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
    };
    struct pending {
        enum kind_t : uint8_t { send_done, recv_cancelled, accept_ended, writable } kind;
        uint32_t slot;
        uint16_t gen;
        int res;
    };
    fd_state& state(int fd);
    void update(int fd, fd_state& st) noexcept;
    void try_send(int fd, fd_state& st) noexcept;
    /// Take the listener out of the set; on_accept_end(res) follows in the next wait.
    void end_accept(int res) noexcept;

    int _epfd = -1;
    int _wake_fd = -1;
    int _listen_fd = -1;
    std::vector<fd_state> _fds;    ///< indexed by fd
    std::vector<pending> _pending; ///< completions known before the wait (sends done, cancels)
    std::vector<char> _scratch;    ///< one receive buffer: bytes are consumed inside on_recv
};

} // namespace ringbolt::uring
