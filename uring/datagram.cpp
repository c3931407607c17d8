// The wire plan of a datagram batch (GSO runs and the control messages of each sendmsg)
// and the reader of a received datagram's control messages, shared by every backend.
#include "uring/datagram.hpp"

#include "core/log.hpp"

#include <atomic>
#include <cstring>
#include <netinet/ip.h>
#include <netinet/udp.h>

namespace ringbolt::uring {

namespace {

/// A peer reached through an IPv6 socket by a v4-mapped address takes the IPv4 path in
/// the kernel, which reads SOL_IP control messages (TOS) and ignores IPV6_TCLASS.
bool ipv4_path(const datagram_socket& sock, const datagram_address& peer) noexcept {
    if (sock.family != AF_INET6) {
        return true;
    }
    if (peer.len < static_cast<socklen_t>(sizeof(sockaddr_in6)) || peer.addr.ss_family != AF_INET6) {
        return peer.addr.ss_family == AF_INET;
    }
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&peer.addr);
    return IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr);
}

/// Append one control message; false (nothing written) when it does not fit.
template <typename T> bool put_cmsg(msghdr& hdr, size_t room, int level, int type, const T& value) noexcept {
    if (hdr.msg_controllen + CMSG_SPACE(sizeof(T)) > room) {
        return false;
    }
    auto* c = reinterpret_cast<cmsghdr*>(static_cast<unsigned char*>(hdr.msg_control) + hdr.msg_controllen);
    std::memset(c, 0, CMSG_SPACE(sizeof(T)));
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(sizeof(T));
    std::memcpy(CMSG_DATA(c), &value, sizeof(T));
    hdr.msg_controllen += CMSG_SPACE(sizeof(T));
    return true;
}

/// The source-address control message: IPV6_PKTINFO for an IPv6 socket (a v4-mapped
/// address for an IPv4 peer on a dual-stack socket), IP_PKTINFO for an IPv4 one.
void put_source(msghdr& hdr, size_t room, const datagram_socket& sock, const datagram_address& local) noexcept {
    if (local.len == 0) {
        return;
    }
    if (sock.family == AF_INET6 && local.addr.ss_family == AF_INET6) {
        in6_pktinfo pi{};
        pi.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(&local.addr)->sin6_addr;
        put_cmsg(hdr, room, IPPROTO_IPV6, IPV6_PKTINFO, pi);
    } else if (sock.family == AF_INET && local.addr.ss_family == AF_INET) {
        in_pktinfo pi{};
        pi.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(&local.addr)->sin_addr;
        put_cmsg(hdr, room, IPPROTO_IP, IP_PKTINFO, pi);
    }
}

} // namespace

void plan_datagram_messages(datagram_send& batch, const datagram_socket& sock, bool gso) noexcept {
    batch.sent = 0;
    batch.error = 0;
    batch.inflight = 0;
    // First count the messages, so that the vectors are sized once and the pointers into
    // them (msg_control, io_uring's user_data) stay put.
    size_t n = batch.payloads.size();
    auto run_end = [&](size_t i) {
        size_t seg = batch.payloads[i].iov_len;
        size_t j = i + 1;
        if (!gso || seg == 0 || seg > 0xffff) {
            return j;
        }
        size_t bytes = seg;
        while (j < n && j - i < max_gso_segments) {
            size_t len = batch.payloads[j].iov_len;
            if (len > seg || len == 0 || bytes + len > max_gso_bytes) {
                break;
            }
            bytes += len;
            ++j;
            if (len < seg) {
                break; // the shorter one ends the run
            }
        }
        return j;
    };
    size_t messages = 0;
    for (size_t i = 0; i < n; i = run_end(i)) {
        ++messages;
    }
    batch.hdrs.resize(messages);
    batch.messages.resize(messages);
    bool v4 = ipv4_path(sock, batch.peer);
    size_t k = 0;
    for (size_t i = 0; i < n; ++k) {
        size_t j = run_end(i);
        datagram_message& m = batch.messages[k];
        m.batch = &batch;
        m.first = static_cast<uint32_t>(i);
        m.count = static_cast<uint32_t>(j - i);
        m.segment_size = m.count > 1 ? static_cast<uint16_t>(batch.payloads[i].iov_len) : 0;
        msghdr& hdr = batch.hdrs[k].msg_hdr;
        hdr = msghdr{};
        batch.hdrs[k].msg_len = 0;
        hdr.msg_name = &batch.peer.addr;
        hdr.msg_namelen = batch.peer.len;
        hdr.msg_iov = &batch.payloads[i];
        hdr.msg_iovlen = j - i;
        hdr.msg_control = m.control;
        hdr.msg_controllen = 0;
        if (m.segment_size != 0) {
            put_cmsg(hdr, sizeof(m.control), SOL_UDP, UDP_SEGMENT, m.segment_size);
        }
        put_source(hdr, sizeof(m.control), sock, batch.local);
        if (batch.ecn != 0) {
            int tos = batch.ecn & 0x3;
            put_cmsg(hdr, sizeof(m.control), v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_TOS : IPV6_TCLASS, tos);
        }
        if (hdr.msg_controllen == 0) {
            hdr.msg_control = nullptr;
        }
        i = j;
    }
}

void gso_failed(datagram_socket& sock) noexcept {
    sock.gso = false;
    static std::atomic<bool> told{false};
    if (!told.exchange(true)) {
        core::log(core::log_level::warning,
                  "UDP GSO send failed with EIO (the device cannot segment): GSO off for the socket");
    }
}

void read_datagram_control(const unsigned char* control, size_t len, uint16_t local_port, datagram& d) noexcept {
    size_t off = 0;
    while (off + sizeof(cmsghdr) <= len) {
        cmsghdr c;
        std::memcpy(&c, control + off, sizeof(c)); // the buffer's alignment is not relied on
        if (c.cmsg_len < sizeof(cmsghdr) || c.cmsg_len > len - off) {
            break;
        }
        const unsigned char* data = control + off + CMSG_LEN(0);
        size_t data_len = c.cmsg_len - CMSG_LEN(0);
        if (c.cmsg_level == IPPROTO_IP && c.cmsg_type == IP_PKTINFO && data_len >= sizeof(in_pktinfo)) {
            in_pktinfo pi;
            std::memcpy(&pi, data, sizeof(pi));
            auto* a = reinterpret_cast<sockaddr_in*>(&d.local.addr);
            std::memset(a, 0, sizeof(*a));
            a->sin_family = AF_INET;
            a->sin_addr = pi.ipi_addr; // the header's destination: the address the peer used
            a->sin_port = htons(local_port);
            d.local.len = sizeof(sockaddr_in);
        } else if (c.cmsg_level == IPPROTO_IPV6 && c.cmsg_type == IPV6_PKTINFO && data_len >= sizeof(in6_pktinfo)) {
            in6_pktinfo pi;
            std::memcpy(&pi, data, sizeof(pi));
            auto* a = reinterpret_cast<sockaddr_in6*>(&d.local.addr);
            std::memset(a, 0, sizeof(*a));
            a->sin6_family = AF_INET6;
            a->sin6_addr = pi.ipi6_addr;
            a->sin6_port = htons(local_port);
            if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr)) {
                a->sin6_scope_id = pi.ipi6_ifindex;
            }
            d.local.len = sizeof(sockaddr_in6);
        } else if (c.cmsg_level == IPPROTO_IP && c.cmsg_type == IP_TOS && data_len >= 1) {
            d.ecn = data[0] & 0x3; // one byte: the header's TOS
        } else if (c.cmsg_level == IPPROTO_IPV6 && c.cmsg_type == IPV6_TCLASS && data_len >= sizeof(int)) {
            int tclass;
            std::memcpy(&tclass, data, sizeof(tclass));
            d.ecn = static_cast<uint8_t>(tclass & 0x3);
        } else if (c.cmsg_level == SOL_UDP && c.cmsg_type == UDP_GRO && data_len >= sizeof(int)) {
            int seg;
            std::memcpy(&seg, data, sizeof(seg));
            d.segment_size = seg > 0 && seg <= 0xffff ? static_cast<uint16_t>(seg) : 0;
        }
        off += CMSG_ALIGN(c.cmsg_len);
    }
}

} // namespace ringbolt::uring
