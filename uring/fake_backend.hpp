// A backend without a kernel, for tests and fuzz targets: datagrams are handed in by the
// driver (inject) and what the code under test sends is captured datagram by datagram,
// laid out by the same wire plan as the real backends (GSO runs are split as the kernel
// would split them). Stream sockets (accept, recv, send) are not emulated yet: calling
// them aborts, so nothing can mistake this for a reactor's backend.
#pragma once

#include "uring/backend.hpp"

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::uring {

class fake_backend final : public io_backend {
  public:
    /// A datagram the code under test sent: one per datagram on the wire.
    struct sent_datagram {
        uint32_t id;
        datagram_address peer;
        datagram_address local;
        uint8_t ecn;
        std::string payload;
        uint16_t segment_size; ///< the UDP_SEGMENT of the message that carried it (0: none)
    };

    /// Queue a datagram for socket `id` (delivered by the next wait while its receive is
    /// armed; kept until then, as a socket's queue would). `segment_size` != 0 hands it
    /// over as a GRO batch of that segment size.
    void inject(uint32_t id, const datagram_address& peer, const datagram_address& local, std::string_view payload,
                uint16_t segment_size = 0, uint8_t ecn = 0);
    /// End socket `id`'s receive with `res` (a negative errno) at the next wait, as a
    /// kernel error would; arm_datagram starts it again.
    void fail_receive(uint32_t id, int res);
    /// Make the next `count` messages sent fail with `res` (a negative errno).
    void fail_sends(int res, unsigned count = 1) {
        _send_failure = res;
        _send_failures_left = count;
    }
    /// Everything sent so far, in order; the driver may clear it.
    std::vector<sent_datagram> sent;
    /// Datagrams queued for `id` and not delivered yet.
    size_t queued(uint32_t id) const noexcept;

    result<void> setup(const server_config&, int) noexcept override { return {}; }
    void arm_accept(int) noexcept override { not_emulated("arm_accept"); }
    void cancel_accept(int) noexcept override { not_emulated("cancel_accept"); }
    void arm_recv(int, uint32_t, uint16_t) noexcept override { not_emulated("arm_recv"); }
    void cancel_recv(int, uint32_t, uint16_t) noexcept override { not_emulated("cancel_recv"); }
    void send(int, uint32_t, uint16_t, const msghdr*) noexcept override { not_emulated("send"); }
    void poll_writable(int, uint32_t, uint16_t) noexcept override { not_emulated("poll_writable"); }
    void forget(int) noexcept override {}
    /// Never blocks: delivers what is due (completed sends, ends, queued datagrams of armed
    /// sockets), in that order, and returns.
    bool wait(unsigned timeout_ms, io_events& events) noexcept override;
    bool submit() noexcept override { return due(); }
    int poll_fd() const noexcept override { return -1; }
    const char* name() const noexcept override { return "fake"; }

    result<void> setup_datagrams(const datagram_buffers& buffers) noexcept override;
    void arm_datagram(uint32_t id, const datagram_socket& sock) noexcept override;
    void cancel_datagram(uint32_t id) noexcept override;
    void send_datagrams(uint32_t id, datagram_send& batch) noexcept override;

  private:
    struct queued_datagram {
        datagram_address peer;
        datagram_address local;
        std::string payload;
        uint16_t segment_size;
        uint8_t ecn;
    };
    struct socket_state {
        datagram_socket sock;
        bool armed = false;
        std::deque<queued_datagram> queue;
    };
    [[noreturn]] static void not_emulated(const char* what) noexcept;
    socket_state& state(uint32_t id);
    bool due() const noexcept;

    uint32_t _payload_room = 0; ///< what a real receive buffer holds after its headers
    std::vector<socket_state> _sockets;
    std::vector<datagram_send*> _done; ///< sends to report at the next wait
    std::vector<std::pair<uint32_t, int>> _ends;
    int _send_failure = 0;
    unsigned _send_failures_left = 0;
};

} // namespace ringbolt::uring
