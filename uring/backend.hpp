// The kernel behind a small interface: arm accept/recv, send, cancel, and one
// wait-and-dispatch call per loop turn. io_uring is the fast path; epoll is the
// fallback where io_uring is blocked (seccomp, sysctl) or missing. The reactor,
// the HTTP code and the timers do not know which one runs.
#pragma once

#include "core/counters.hpp"
#include "core/result.hpp"
#include "uring/datagram.hpp"
#include "uring/ktls_calls.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <sys/socket.h>

namespace ringbolt::uring {

/// Completions one wait() dispatches at most, sends' not counted (they bring no request:
/// the bound is one of requests, as epoll's events are); the rest stay queued, in order,
/// for the next turn, which is due at once (the next wait does not block, and poll_fd() stays
/// readable for a hosting event loop). A turn's requests, their Python objects and
/// their answers are all alive until the turn's batch is answered: at thousands of
/// connections an unbounded turn (up to the whole CQ) outgrew the core's L2 cache and
/// every request of the turn paid for misses (docs/architecture.md, "How much one turn takes").
constexpr unsigned max_completions_per_wait = 256;

/// What a backend is set up with (the server's config has these among its own).
struct backend_config {
    unsigned ring_entries = 1024;
    /// Receive buffers at most (a power of two) of buffer_size bytes each: the most the
    /// io_uring backend's receive ring offers (uring/recv_ring.hpp; it starts small).
    unsigned buffer_count = 1024;
    unsigned buffer_size = 4096;
    /// io_uring: the receive buffers consumed incrementally where the kernel can
    /// (recv_ring.hpp); false takes a whole buffer each read, as on older kernels (tests).
    bool incremental_buffers = true;
    /// Another thread may use the ring too (a hosted loop's stand-in): no SINGLE_ISSUER.
    bool shared_ring = false;
    /// io_uring: multishot recvs carry the kernel's byte limit where it has one (6.17+);
    /// false runs them unbounded, as on older kernels (tests of that behaviour).
    bool recv_byte_limit = true;
};

/// How a connection's receive stream ended.
enum class recv_end : uint8_t {
    eof,       ///< the peer finished sending (0-byte read)
    rearm,     ///< the multishot request ended without error (e.g. buffers ran dry): arm again
    cancelled, ///< ended by cancel_recv (a pause), not by the peer
    error,     ///< reset or failed: the connection is over
    /// EIO: on a socket whose kernel decrypts TLS (kTLS), a record other than application
    /// data waits, to be read with its type (transport::read_kernel_record); elsewhere an
    /// error like the others.
    tls_record,
    /// EBADMSG: on a socket whose kernel decrypts TLS, a record that does not decrypt
    /// (transport::on_bad_kernel_record); elsewhere an error like the others.
    bad_record,
};

/// Completions, delivered by io_backend::wait to the reactor.
class io_events {
  public:
    virtual ~io_events() = default;
    /// The wait returned; the completions follow. The reactor reads its clock here, so
    /// that what they arm (a new connection's first deadline) counts from now, not from
    /// before the wait.
    virtual void on_wait_end() noexcept {}
    virtual void on_accept(int fd) noexcept = 0;
    /// The accept request ended (cancelled or failed); `res` is a negative errno.
    virtual void on_accept_end(int res) noexcept = 0;
    /// Bytes received; `data` is valid only during the call.
    virtual void on_recv(uint32_t slot, uint16_t gen, const char* data, size_t len) noexcept = 0;
    /// A receive armed with arm_recv_into put `len` (> 0) bytes at the start of its room
    /// and ended: no on_recv_end follows (its EOF, error or cancel is an on_recv_end instead).
    virtual void on_recv_into(uint32_t slot, uint16_t gen, size_t len) noexcept {
        (void)slot;
        (void)gen;
        (void)len;
    }
    virtual void on_recv_end(uint32_t slot, uint16_t gen, recv_end how) noexcept = 0;
    /// A send finished: bytes sent (maybe fewer than asked) or a negative errno.
    virtual void on_send(uint32_t slot, uint16_t gen, int res) noexcept = 0;
    /// The socket can take more bytes (after poll_writable), or a negative errno.
    virtual void on_writable(uint32_t slot, uint16_t gen, int res) noexcept = 0;

    // Datagram sockets (io_backend::arm_datagram). Defaults ignore them: a reactor that
    // serves no datagram socket has nothing to implement.
    /// A datagram (or a GRO batch) arrived on datagram socket `id`; `d` is valid only
    /// during the call.
    virtual void on_datagram(uint32_t /*id*/, const datagram& /*d*/) noexcept {}
    /// Receiving on `id` ended for good: `res` is -ECANCELED after cancel_datagram, or the
    /// error that ended it (the backend re-arms by itself on ENOBUFS and on ends without one).
    virtual void on_datagram_end(uint32_t /*id*/, int /*res*/) noexcept {}
    /// Every datagram of `batch` was handed to the kernel or failed (batch.sent, batch.error);
    /// the batch and its payloads are the caller's again.
    virtual void on_datagrams_sent(uint32_t /*id*/, datagram_send& /*batch*/) noexcept {}
};

/// A stream completion a backend queued to report at its next wait (the epoll and fake
/// backends complete sends, cancels and accept ends synchronously, then report them in order).
struct deferred_completion {
    enum kind_t : uint8_t { sent, recv_cancelled, writable, accept_end } kind;
    uint32_t slot;
    uint16_t gen;
    int res;

    void report(io_events& events) const noexcept {
        switch (kind) {
        case sent:
            events.on_send(slot, gen, res);
            break;
        case recv_cancelled:
            events.on_recv_end(slot, gen, recv_end::cancelled);
            break;
        case writable:
            events.on_writable(slot, gen, res);
            break;
        case accept_end:
            events.on_accept_end(res); // cancelled, or failed in the previous turn
            break;
        }
    }
};

/// What probe_receive_buffer found: the option to set and the bytes it grants.
struct receive_buffer_grant {
    int option = 0;
    int bytes = 0;
};

/// kTLS's socket calls (ktls_calls.hpp) are a backend's too: whoever makes them on a
/// connection's socket makes them through the connection's backend.
class io_backend : public ktls_calls {
  public:
    ~io_backend() override = default;
    /// Create the kernel objects on the calling (reactor) thread.
    virtual core::result<void> setup(const backend_config& config, int wake_fd) noexcept = 0;
    virtual void arm_accept(int listen_fd) noexcept = 0;
    virtual void cancel_accept(int listen_fd) noexcept = 0;
    virtual void arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept = 0;
    /// One receive of up to `room.size()` bytes straight into `room` (the caller keeps it
    /// alive until the receive ends): on_recv_into with the bytes, or on_recv_end (EOF,
    /// error, cancel). A streamed request body is read this way into its own memory, in
    /// pieces as large as its room, instead of through the provided buffers (whose 4 KiB
    /// pieces are then copied). cancel_recv stops it like a multishot recv. False when the
    /// backend has no such receive (arm_recv then).
    virtual bool arm_recv_into(int fd, uint32_t slot, uint16_t gen, std::span<char> room) noexcept {
        (void)fd;
        (void)slot;
        (void)gen;
        (void)room;
        return false;
    }
    /// arm_recv_into works (both kernel backends; a fake backend may lack it).
    virtual bool can_recv_into() const noexcept { return false; }
    /// Stop receiving; an on_recv_end(error) follows.
    virtual void cancel_recv(int fd, uint32_t slot, uint16_t gen) noexcept = 0;
    /// Send the iovecs of `msg` (msg, its iovecs and their bytes kept alive by the caller
    /// until on_send). One send in flight per connection. `more`: the caller sends more at
    /// once after it (a response head before its file body): MSG_MORE, so TCP holds the
    /// bytes for the next send's instead of putting them in a packet of their own.
    virtual void send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg, bool more) noexcept = 0;
    /// Report on_writable once the socket has room (the reactor writes file ranges with
    /// sendfile() itself and waits here when the socket is full).
    virtual void poll_writable(int fd, uint32_t slot, uint16_t gen) noexcept = 0;
    /// The fd is about to be closed.
    virtual void forget(int fd) noexcept = 0;
    /// Submit what was queued, wait up to `timeout_ms` for at least one event (or a
    /// wake-up), dispatch up to max_completions_per_wait events besides the sends' (the
    /// oldest first).
    /// Returns false on a fatal error.
    virtual bool wait(unsigned timeout_ms, io_events& events) noexcept = 0;
    /// A reactor whose event loop waits for it (server_config::host_loop): submit what
    /// the turn queued, without waiting. True when a turn is due at once: completions
    /// known already (epoll's finished sends) or ops the kernel has not taken yet.
    virtual bool submit() noexcept = 0;
    /// Readable when wait() has something to dispatch (the hosting event loop watches it).
    virtual int poll_fd() const noexcept = 0;
    virtual const char* name() const noexcept = 0;
    /// Once a second, from the reactor's sweep: housekeeping of the backend's own (the
    /// io_uring backend's receive ring shrinks after a quiet while).
    virtual void on_second() noexcept {}

    // Datagram sockets. `id` is the caller's small integer (< max_datagram_sockets) naming
    // the socket in the io_events calls. The defaults are a backend without datagrams.
    static constexpr uint32_t max_datagram_sockets = 1024;
    /// Create the datagram receive buffers (once, before the first arm_datagram).
    virtual core::result<void> setup_datagrams(const datagram_buffers& /*buffers*/) noexcept {
        return {core::errc::system, EOPNOTSUPP};
    }
    /// Start receiving on `sock` (open_datagram_socket): every datagram is reported with
    /// on_datagram until on_datagram_end. Re-arming an `id` after its end is allowed.
    virtual void arm_datagram(uint32_t /*id*/, const datagram_socket& /*sock*/) noexcept {}
    /// Stop receiving on `id`: on_datagram_end(id, -ECANCELED) follows (sends in flight still
    /// complete); after both the fd may be closed.
    virtual void cancel_datagram(uint32_t /*id*/) noexcept {}
    /// Send `batch` on `id` (armed): GSO runs where the socket offers it (datagram.hpp,
    /// plan_datagram_messages), on_datagrams_sent when all are done. In order on epoll; on
    /// io_uring a message that met a full socket may leave after a later one (UDP allows it).
    virtual void send_datagrams(uint32_t /*id*/, datagram_send& /*batch*/) noexcept {}
    datagram_stats dgram_stats;

    // Socket calls the loop makes outside the completion queue (a resume's reads, a
    // probe, a file range, a close, the accept queue's sweep): through the backend, so a
    // backend without a kernel (fake_backend) can answer them too. The defaults make the
    // system calls (socket_calls.cpp); io_uring and epoll share them. Each returns what
    // the system call does, with -errno in place of -1.
    /// recv(2) with MSG_DONTWAIT | `flags`: bytes read, 0 at the peer's end, or -errno.
    virtual long recv_now(int fd, void* buf, size_t len, int flags) noexcept;
    /// poll(2) of one socket without waiting: the events that hold (0: none, or an error).
    virtual short poll_now(int fd, short events) noexcept;
    /// sendfile(2) of up to `len` bytes of `file_fd` from `*offset` (moved on): bytes sent or -errno.
    virtual long send_file(int fd, int file_fd, int64_t* offset, size_t len) noexcept;
    /// shutdown(2) (SHUT_WR, SHUT_RDWR).
    virtual void shutdown_socket(int fd, int how) noexcept;
    /// Bytes sent and not acknowledged by the peer yet (SIOCOUTQ), -1 when unknown.
    virtual int unacked_bytes(int fd) noexcept;
    /// The most of `bytes` of receive buffer a new TCP socket is granted, and the option
    /// that grants it: SO_RCVBUF (within net.core.rmem_max), else SO_RCVBUFFORCE (with
    /// CAP_NET_ADMIN); {0, 0} when neither sets anything. Asked once, at set-up, on a
    /// socket of its own.
    virtual receive_buffer_grant probe_receive_buffer(int bytes) noexcept;
    /// The receive buffer raised to `bytes` by `option` (SO_RCVBUF, SO_RCVBUFFORCE) unless
    /// it already holds that much (getsockopt first: a set ends the kernel's autotuning).
    virtual void raise_receive_buffer(int fd, int option, int bytes) noexcept;
    /// Accept what waits on `listen_fd` (at most `max`), without blocking even on a
    /// blocking listener (one shared with other workers: its flags are put back), and
    /// report each with events.on_accept.
    virtual void accept_queued(int listen_fd, unsigned max, io_events& events) noexcept;
    /// close(2) of a socket the loop is done with: a connection, one refused at accept,
    /// the listener at a drain.
    virtual void close_socket(int fd) noexcept;
    /// getpeername(2) into `out`: false when the socket has no peer (any more).
    virtual bool peer_name(int fd, sockaddr_storage& out) noexcept;
    /// A drain of a listener this process bound: new clients' SYNs go unanswered while
    /// handshakes under way complete (refuse_new_connections in listener.hpp).
    virtual core::result<void> refuse_connections(int listen_fd) noexcept;

    /// accept4() flags for served sockets: non-blocking on both backends (io_uring still
    /// poll-arms its recvs and sends; sendfile() needs it).
    static constexpr int accepted_socket_flags = SOCK_CLOEXEC | SOCK_NONBLOCK;
    core::core_counters* counters = nullptr;
};

/// The overrides every kernel backend defines out of line (io_uring, epoll): declared
/// once here, so the two class definitions list only what differs between them.
#define RINGBOLT_KERNEL_BACKEND_OVERRIDES                                                                              \
    core::result<void> setup(const backend_config& config, int wake_fd) noexcept override;                             \
    void arm_accept(int listen_fd) noexcept override;                                                                  \
    void cancel_accept(int listen_fd) noexcept override;                                                               \
    void arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept override;                                              \
    void cancel_recv(int fd, uint32_t slot, uint16_t gen) noexcept override;                                           \
    bool arm_recv_into(int fd, uint32_t slot, uint16_t gen, std::span<char> room) noexcept override;                   \
    bool can_recv_into() const noexcept override {                                                                     \
        return true;                                                                                                   \
    }                                                                                                                  \
    void send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg, bool more) noexcept override;                    \
    void poll_writable(int fd, uint32_t slot, uint16_t gen) noexcept override;                                         \
    bool wait(unsigned timeout_ms, io_events& events) noexcept override;                                               \
    core::result<void> setup_datagrams(const datagram_buffers& buffers) noexcept override;                             \
    void arm_datagram(uint32_t id, const datagram_socket& sock) noexcept override;                                     \
    void cancel_datagram(uint32_t id) noexcept override;                                                               \
    void send_datagrams(uint32_t id, datagram_send& batch) noexcept override;

} // namespace ringbolt::uring
