// Datagram sockets on the io backends: what a received datagram looks like, a batch of
// datagrams to send to one peer, and the wire plan (GSO runs, control messages) and the
// control-message reader the io_uring, epoll and fake backends share. No QUIC here: this
// is the seam it plugs into (docs/architecture.md, "Datagrams").
#pragma once

#include <cstddef>
#include <cstdint>
#include <netinet/in.h>
#include <sys/socket.h>
#include <vector>

namespace ringbolt::uring {

/// A socket address with its length; `len` 0 means "none" (e.g. no IP_PKTINFO came).
struct datagram_address {
    sockaddr_storage addr;
    socklen_t len = 0;
};

/// One received datagram, or one UDP GRO batch of them. Handed to io_events::on_datagram;
/// nothing in it outlives the call.
struct datagram {
    datagram_address peer;  ///< who sent it
    datagram_address local; ///< the address it was sent to (IP_PKTINFO) with the socket's port
    const char* data = nullptr;
    size_t len = 0;
    /// UDP GRO: `data` holds datagrams of this size back to back, the last may be shorter.
    /// 0: one datagram.
    uint16_t segment_size = 0;
    uint8_t ecn = 0; ///< ECN codepoint: the low two bits of the IPv4 TOS / IPv6 traffic class
};

/// Each datagram a `datagram` carries (split on `segment_size`), in order.
template <typename F> void for_each_segment(const datagram& d, F f) {
    size_t step = d.segment_size != 0 ? d.segment_size : (d.len != 0 ? d.len : 1);
    if (d.len == 0) {
        f(d.data, size_t{0}); // an empty datagram is a datagram
        return;
    }
    for (size_t off = 0; off < d.len; off += step) {
        f(d.data + off, d.len - off < step ? d.len - off : step);
    }
}

/// How many datagrams `d` carries (a GRO batch several; an empty datagram is one).
inline size_t segment_count(const datagram& d) noexcept {
    return d.segment_size != 0 && d.len > 0 ? (d.len + d.segment_size - 1) / d.segment_size : 1;
}

/// The receive buffers of the datagram sockets: a provided-buffer ring of their own (a UDP
/// flood cannot take the buffers TCP connections read into), each buffer holding one
/// datagram or one GRO batch after io_uring's recvmsg header, the peer's address and the
/// control messages (`datagram_buffers::header_room`). The epoll backend reads into
/// min(count, 32) buffers of this size per recvmmsg.
struct datagram_buffers {
    uint32_t count = 32;                          ///< power of two (<= 32768)
    uint32_t size = 65536 + 512;                  ///< multiple of 8; >= gro_size for GRO batches
    static constexpr uint32_t name_room = 32;     ///< sockaddr_in6 (28), kept 8-aligned
    static constexpr uint32_t control_room = 224; ///< pktinfo, TOS/TCLASS, UDP_GRO
    /// io_uring_recvmsg_out (16) + name + control: what precedes the payload in a buffer.
    static constexpr uint32_t header_room = 16 + name_room + control_room;
    /// Smallest buffer that holds any GRO batch (at most 64 KiB of payload): a socket
    /// opened with GRO on smaller buffers gets coalesced batches truncated and dropped.
    static constexpr uint32_t gro_size = 65536 + header_room;
};

/// An open datagram socket: what open_datagram_socket (listener.hpp) found the kernel
/// offers on it, handed to io_backend::arm_datagram.
struct datagram_socket {
    int fd = -1;
    int family = AF_UNSPEC; ///< AF_INET or AF_INET6 (dual-stack: IPv4 peers are v4-mapped)
    uint16_t port = 0;      ///< the bound port
    bool gro = false;       ///< UDP_GRO accepted: datagrams may arrive coalesced
    bool gso = false;       ///< UDP_SEGMENT accepted: sends coalesce equal-size runs
    int receive_buffer = 0; ///< SO_RCVBUF as getsockopt reports it (twice the bytes a set asked)
};

/// Ordinary UDP limits on one sendmsg with UDP_SEGMENT: at most 64 segments (the kernel's
/// UDP_MAX_SEGMENTS, 1 << 6 for years; a larger limit in newer kernels is not relied on)
/// and one IP packet's payload: 65535 less an IPv6 header (40) and the UDP header (8),
/// which also fits IPv4.
inline constexpr size_t max_gso_segments = 64;
inline constexpr size_t max_gso_bytes = 65535 - 40 - 8;

struct datagram_send;

/// One sendmsg of a batch: the control bytes its msghdr points to and where its
/// payloads are. The io_uring backend's user_data names it (user_data.hpp).
struct datagram_message {
    alignas(cmsghdr) unsigned char control[128];
    datagram_send* batch = nullptr;
    uint32_t first = 0;        ///< index of its first payload in the batch
    uint32_t count = 0;        ///< payloads (datagrams on the wire) it carries
    uint16_t segment_size = 0; ///< UDP_SEGMENT value; 0: one datagram
};

/// Datagrams to one peer. The caller fills the first block, keeps the object and every
/// payload's bytes alive from io_backend::send_datagrams until io_events::on_datagrams_sent,
/// and may then reuse it (the vectors keep their capacity).
struct datagram_send {
    datagram_address peer;
    datagram_address local;      ///< send from this address (IP_PKTINFO); len 0: the kernel picks
    uint8_t ecn = 0;             ///< ECN codepoint for these datagrams (0: Not-ECT)
    std::vector<iovec> payloads; ///< one per datagram, each at most 65507 bytes

    /// Filled by the backend.
    size_t sent = 0; ///< datagrams the kernel took
    int error = 0;   ///< the first failure's negative errno, 0 when none

    /// The backend's: the wire plan (plan_datagram_messages) and the sends in flight.
    std::vector<mmsghdr> hdrs;
    std::vector<datagram_message> messages;
    uint32_t socket_id = 0;
    uint32_t inflight = 0;
};

/// Per-backend datagram tallies (written by the reactor thread that owns the backend).
struct datagram_stats {
    uint64_t received = 0;      ///< datagrams delivered (each GRO segment counts)
    uint64_t gro_batches = 0;   ///< deliveries carrying more than one datagram
    uint64_t truncated = 0;     ///< dropped: larger than a receive buffer (MSG_TRUNC)
    uint64_t enobufs = 0;       ///< io_uring: the buffer ring ran dry, the recv was armed again
    uint64_t rearms = 0;        ///< multishot recvs armed again (ENOBUFS or another end)
    uint64_t recv_calls = 0;    ///< epoll: recvmmsg calls
    uint64_t sent = 0;          ///< datagrams the kernel took
    uint64_t send_messages = 0; ///< sendmsg (or sendmmsg entries, io_uring SQEs) made
    uint64_t gso_messages = 0;  ///< of which carried UDP_SEGMENT
    uint64_t send_errors = 0;   ///< messages that failed
    uint64_t send_waits = 0;    ///< epoll: a full socket made a batch wait for EPOLLOUT

    void count_received(const datagram& d) noexcept {
        size_t n = segment_count(d);
        received += n;
        gro_batches += n > 1 ? 1 : 0;
    }
};

/// Lay out `batch` as messages for `sock`: with GSO, runs of equal-size payloads (the last
/// of a run may be shorter) of at most max_gso_segments and max_gso_bytes each go out as
/// one message with UDP_SEGMENT; otherwise one message per payload. Each message carries
/// the source address (when batch.local is set) and the ECN codepoint (when non-zero).
/// Resets sent, error and inflight.
void plan_datagram_messages(datagram_send& batch, const datagram_socket& sock, bool gso) noexcept;

/// A send with UDP_SEGMENT failed with EIO: the device cannot segment (no checksum
/// offload). Later batches on the socket go out one datagram per message, as quinn does;
/// logged once per process.
void gso_failed(datagram_socket& sock) noexcept;

/// Fill d.local (address from IP_PKTINFO / IPV6_PKTINFO, port `local_port`), d.ecn and
/// d.segment_size from a received message's control bytes. Bounds-checked: a truncated
/// or malformed control block is read as far as it is whole.
void read_datagram_control(const unsigned char* control, size_t len, uint16_t local_port, datagram& d) noexcept;

} // namespace ringbolt::uring
