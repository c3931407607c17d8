// A backend without a ring, for tests and fuzz targets: datagrams are handed in by the
// driver (inject) and what the code under test sends is captured datagram by datagram,
// laid out by the same wire plan as the real backends (GSO runs are split as the kernel
// would split them). Stream sockets are real descriptors (a socketpair's end stands for
// an accepted connection) served from a provided-buffer ring of a set size, so a test
// decides which recvs get a buffer in a turn and which run dry (accept_stream).
#pragma once

#include "uring/backend.hpp"

#include <cerrno>
#include <cstdint>
#include <deque>
#include <functional>
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

    /// A recv armed on a stream whose descriptor holds bytes, as the next wait sees it.
    struct readable_stream {
        uint32_t slot;
        int fd;
        uint64_t armed_wait; ///< the wait during (or before) which it was armed
    };
    /// Stream sockets: `fd` (connected, non-blocking) is accepted at the next wait. A recv
    /// armed on it is multishot: each wait hands one buffer of `stream_buffers` (the ring,
    /// refilled at every wait, as the reactor recycles buffers as soon as it has parsed
    /// them) to each armed recv whose descriptor holds bytes, reading them from it, in the
    /// order `order_streams` leaves (by default recvs armed earlier first: the kernel's
    /// multishot recvs still running take buffers as bytes come, before recvs armed again
    /// are submitted). A recv that finds the ring dry ends (recv_end::rearm), as a
    /// multishot recv ends on ENOBUFS. Sends are written to the descriptor at once and
    /// complete at the next wait.
    void accept_stream(int fd) { _accepts.push_back(fd); }
    uint32_t stream_buffers = 0; ///< 0: a buffer for every readable recv
    uint32_t stream_buffer_size = 4096;
    std::function<void(std::vector<readable_stream>&)> order_streams;
    uint64_t recvs_delivered = 0; ///< buffers handed out
    uint64_t recvs_ran_dry = 0;   ///< recvs ended for want of a buffer
    /// Datagrams queued for `id` and not delivered yet.
    size_t queued(uint32_t id) const noexcept;
    /// The loop's socket calls outside the queue, as it made them (then made on the real
    /// descriptors, as the defaults do): what it closed, refused and asked a peer of.
    std::vector<int> closed;
    std::vector<int> refused;
    std::vector<int> peer_names;

    /// kTLS's calls (ktls_calls.hpp), as a TLS transport made them, in order.
    struct tls_call {
        enum kind_t : uint8_t { attach, keys, record_sent, record_read, error_taken } kind;
        int fd;
        tls_direction dir = tls_direction::send; ///< keys'
        uint8_t type = 0;                        ///< a record's
        std::string body;                        ///< a record's
    };
    std::vector<tls_call> tls_calls;
    /// Play the kernel's TLS (this host may have none, a socketpair never has): attach_tls
    /// and set_tls_keys succeed without a system call, the records sent are recorded only,
    /// and the records read are those queue_tls_record left. The stream's bytes are left as
    /// they are: once the keys are the "kernel's", the test's client reads and writes the
    /// plaintext the kernel would encrypt and decrypt. Off: each call is recorded, then
    /// made on the real descriptor.
    bool kernel_tls = false;
    /// A record other than data that the kernel opened on `fd` (kernel_tls): the recv armed
    /// on `fd` ends with recv_end::tls_record, and recv_now gives -EIO, until
    /// recv_tls_record reads it.
    void queue_tls_record(int fd, uint8_t type, std::string body) {
        _tls_records.push_back({tls_call::record_read, fd, tls_direction::receive, type, std::move(body)});
    }

    core::result<void> setup(const backend_config&, int) noexcept override { return {}; }
    void arm_accept(int) noexcept override {}
    void cancel_accept(int) noexcept override {
        _stream_events.push_back({deferred_completion::accept_end, 0, 0, -ECANCELED});
    }
    void arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept override;
    void cancel_recv(int fd, uint32_t slot, uint16_t gen) noexcept override;
    void send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg, bool more) noexcept override;
    void poll_writable(int, uint32_t slot, uint16_t gen) noexcept override {
        _stream_events.push_back({deferred_completion::writable, slot, gen, 0});
    }
    void forget(int) noexcept override {}
    /// Never blocks: delivers what is due (accepted streams, stream completions, stream
    /// bytes, completed datagram sends, ends, queued datagrams of armed sockets), in that
    /// order, and returns.
    bool wait(unsigned timeout_ms, io_events& events) noexcept override;
    bool submit() noexcept override { return due(); }
    int poll_fd() const noexcept override { return -1; }
    const char* name() const noexcept override { return "fake"; }

    core::result<void> setup_datagrams(const datagram_buffers& buffers) noexcept override;
    void arm_datagram(uint32_t id, const datagram_socket& sock) noexcept override;
    void cancel_datagram(uint32_t id) noexcept override;
    void send_datagrams(uint32_t id, datagram_send& batch) noexcept override;

    void close_socket(int fd) noexcept override {
        closed.push_back(fd);
        io_backend::close_socket(fd);
    }
    bool peer_name(int fd, sockaddr_storage& out) noexcept override {
        peer_names.push_back(fd);
        return io_backend::peer_name(fd, out);
    }
    core::result<void> refuse_connections(int listen_fd) noexcept override {
        refused.push_back(listen_fd);
        return io_backend::refuse_connections(listen_fd);
    }
    long recv_now(int fd, void* buf, size_t len, int flags) noexcept override;
    int attach_tls(int fd) noexcept override;
    int set_tls_keys(int fd, tls_direction dir, std::span<const unsigned char> keys) noexcept override;
    long send_tls_record(int fd, uint8_t type, std::string_view body) noexcept override;
    long recv_tls_record(int fd, std::span<char> into, uint8_t& type) noexcept override;
    int take_socket_error(int fd) noexcept override;

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
    struct stream_state {
        int fd = -1;
        uint16_t gen = 0;
        bool armed = false;
        uint64_t armed_wait = 0;
    };
    socket_state& state(uint32_t id);
    bool due() const noexcept;
    void wait_streams(io_events& events) noexcept;

    std::vector<stream_state> _streams; ///< by the reactor's slot
    std::vector<int> _accepts;
    std::vector<tls_call> _tls_records; ///< queue_tls_record's, not read yet
    bool tls_record_waits(int fd) const noexcept;
    std::vector<deferred_completion> _stream_events;
    uint64_t _waits = 0;

    uint32_t _payload_room = 0; ///< what a real receive buffer holds after its headers
    std::vector<socket_state> _sockets;
    std::vector<datagram_send*> _done; ///< sends to report at the next wait
    std::vector<std::pair<uint32_t, int>> _ends;
    int _send_failure = 0;
    unsigned _send_failures_left = 0;
};

} // namespace ringbolt::uring
