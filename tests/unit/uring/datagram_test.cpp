// The pure halves of the datagram seam (uring/datagram.cpp): how a batch is laid out as
// messages (GSO runs, their limits, the control messages each carries) and how a received
// datagram's control messages are read, malformed ones included.
#include "tests/unit/uring/addresses.hpp"
#include "uring/datagram.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <netinet/udp.h>
#include <string>
#include <vector>

namespace ringbolt::uring {
namespace {

using test::bound_address;
using test::ip_address;
using test::port_of;

struct expected_message {
    uint32_t first;
    uint32_t count;
    uint16_t segment_size;
};

struct plan_case {
    const char* name;
    std::vector<size_t> sizes;
    bool gso;
    std::vector<expected_message> expected;
};

std::vector<size_t> repeat(size_t n, size_t size) {
    return std::vector<size_t>(n, size);
}

const std::vector<plan_case>& plan_cases() {
    static const std::vector<plan_case> cases = {
        {"one datagram", {1200}, true, {{0, 1, 0}}},
        {"equal run", {1200, 1200, 1200}, true, {{0, 3, 1200}}},
        {"shorter last", {1200, 1200, 500}, true, {{0, 3, 1200}}},
        {"shorter one ends the run", {1200, 500, 1200}, true, {{0, 2, 1200}, {2, 1, 0}}},
        {"two shorter: the second starts a run", {1200, 1200, 1199, 1199}, true, {{0, 3, 1200}, {3, 1, 0}}},
        {"longer one starts a run", {1200, 1300}, true, {{0, 1, 0}, {1, 1, 0}}},
        {"short run then a longer one", {500, 500, 500, 1200}, true, {{0, 3, 500}, {3, 1, 0}}},
        {"64 segments at most", repeat(70, 100), true, {{0, 64, 100}, {64, 6, 100}}},
        {"65487 bytes at most: 54 x 1200", repeat(60, 1200), true, {{0, 54, 1200}, {54, 6, 1200}}},
        {"65487 bytes at most: 46 x 1400", repeat(60, 1400), true, {{0, 46, 1400}, {46, 14, 1400}}},
        {"empty datagrams go alone", {0, 0}, true, {{0, 1, 0}, {1, 1, 0}}},
        {"an empty one ends a run", {1200, 0}, true, {{0, 1, 0}, {1, 1, 0}}},
        {"without GSO one message each", {1200, 1200}, false, {{0, 1, 0}, {1, 1, 0}}},
    };
    return cases;
}

TEST(DatagramPlan, RunsFollowTheSizesAndTheKernelsLimits) {
    datagram_socket sock;
    sock.family = AF_INET;
    for (const plan_case& c : plan_cases()) {
        SCOPED_TRACE(c.name);
        std::vector<std::string> bytes;
        datagram_send batch;
        batch.peer = ip_address("127.0.0.1", 4433);
        for (size_t size : c.sizes) {
            bytes.emplace_back(size, 'x');
        }
        for (std::string& b : bytes) {
            batch.payloads.push_back({b.data(), b.size()});
        }
        batch.sent = 9; // reset by the plan
        plan_datagram_messages(batch, sock, c.gso);
        EXPECT_EQ(batch.sent, 0u);
        ASSERT_EQ(batch.messages.size(), c.expected.size());
        ASSERT_EQ(batch.hdrs.size(), c.expected.size());
        for (size_t k = 0; k < c.expected.size(); ++k) {
            const datagram_message& m = batch.messages[k];
            const msghdr& h = batch.hdrs[k].msg_hdr;
            EXPECT_EQ(m.first, c.expected[k].first) << "message " << k;
            EXPECT_EQ(m.count, c.expected[k].count) << "message " << k;
            EXPECT_EQ(m.segment_size, c.expected[k].segment_size) << "message " << k;
            EXPECT_EQ(m.batch, &batch);
            EXPECT_EQ(h.msg_iov, &batch.payloads[m.first]);
            EXPECT_EQ(h.msg_iovlen, m.count);
            EXPECT_EQ(h.msg_name, &batch.peer.addr);
            EXPECT_EQ(h.msg_namelen, batch.peer.len);
            size_t bytes_in_message = 0;
            for (size_t i = 0; i < h.msg_iovlen; ++i) {
                bytes_in_message += h.msg_iov[i].iov_len;
            }
            EXPECT_LE(bytes_in_message, max_gso_bytes);
            // The UDP_SEGMENT control message is there exactly when the message is a run.
            const cmsghdr* seg = nullptr;
            for (const cmsghdr* cm = CMSG_FIRSTHDR(&h); cm != nullptr;
                 cm = CMSG_NXTHDR(const_cast<msghdr*>(&h), const_cast<cmsghdr*>(cm))) {
                if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_SEGMENT) {
                    seg = cm;
                }
            }
            ASSERT_EQ(seg != nullptr, m.segment_size != 0) << "message " << k;
            if (seg != nullptr) {
                uint16_t v;
                std::memcpy(&v, CMSG_DATA(seg), sizeof(v));
                EXPECT_EQ(v, m.segment_size);
            } else {
                EXPECT_EQ(h.msg_control, nullptr) << "no control message: no control buffer";
            }
        }
    }
}

/// The control messages of a plan's single message, as (level, type, value) triples.
struct control_seen {
    int level;
    int type;
    std::vector<unsigned char> data;
};

std::vector<control_seen> controls_of(const msghdr& h) {
    std::vector<control_seen> out;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm != nullptr; cm = CMSG_NXTHDR(const_cast<msghdr*>(&h), cm)) {
        out.push_back({cm->cmsg_level, cm->cmsg_type,
                       std::vector<unsigned char>(CMSG_DATA(cm), CMSG_DATA(cm) + (cm->cmsg_len - CMSG_LEN(0)))});
    }
    return out;
}

TEST(DatagramPlan, SourceAddressAndEcnFollowTheFamilyOfThePath) {
    struct family_case {
        const char* name;
        int socket_family;
        datagram_address peer;
        datagram_address local;
        int pktinfo_level;
        int pktinfo_type;
        int tos_level;
        int tos_type;
    };
    const family_case cases[] = {
        {"IPv4 socket", AF_INET, ip_address("192.0.2.1", 5000), ip_address("127.0.0.2", 443), IPPROTO_IP, IP_PKTINFO,
         IPPROTO_IP, IP_TOS},
        {"IPv6 socket, IPv6 peer", AF_INET6, ip_address("2001:db8::1", 5000), ip_address("::1", 443), IPPROTO_IPV6,
         IPV6_PKTINFO, IPPROTO_IPV6, IPV6_TCLASS},
        // The kernel sends to a v4-mapped peer on its IPv4 path: TOS, and IPV6_PKTINFO
        // holding a mapped address.
        {"IPv6 socket, v4-mapped peer", AF_INET6, ip_address("::ffff:192.0.2.1", 5000),
         ip_address("::ffff:127.0.0.2", 443), IPPROTO_IPV6, IPV6_PKTINFO, IPPROTO_IP, IP_TOS},
    };
    for (const family_case& c : cases) {
        SCOPED_TRACE(c.name);
        datagram_socket sock;
        sock.family = c.socket_family;
        std::string a(1200, 'a');
        std::string b(1200, 'b');
        datagram_send batch;
        batch.peer = c.peer;
        batch.local = c.local;
        batch.ecn = 2 | 4; // ECT(0); bits above the two ECN bits are not sent
        batch.payloads = {{a.data(), a.size()}, {b.data(), b.size()}};
        plan_datagram_messages(batch, sock, true);
        ASSERT_EQ(batch.messages.size(), 1u);
        std::vector<control_seen> seen = controls_of(batch.hdrs[0].msg_hdr);
        ASSERT_EQ(seen.size(), 3u);
        EXPECT_EQ(seen[0].level, SOL_UDP);
        EXPECT_EQ(seen[0].type, UDP_SEGMENT);
        EXPECT_EQ(seen[1].level, c.pktinfo_level);
        EXPECT_EQ(seen[1].type, c.pktinfo_type);
        if (c.pktinfo_type == IP_PKTINFO) {
            in_pktinfo pi;
            ASSERT_EQ(seen[1].data.size(), sizeof(pi));
            std::memcpy(&pi, seen[1].data.data(), sizeof(pi));
            EXPECT_EQ(std::memcmp(&pi.ipi_spec_dst, &reinterpret_cast<const sockaddr_in*>(&c.local.addr)->sin_addr, 4),
                      0);
        } else {
            in6_pktinfo pi;
            ASSERT_EQ(seen[1].data.size(), sizeof(pi));
            std::memcpy(&pi, seen[1].data.data(), sizeof(pi));
            EXPECT_EQ(std::memcmp(&pi.ipi6_addr, &reinterpret_cast<const sockaddr_in6*>(&c.local.addr)->sin6_addr, 16),
                      0);
        }
        EXPECT_EQ(seen[2].level, c.tos_level);
        EXPECT_EQ(seen[2].type, c.tos_type);
        int tos;
        ASSERT_EQ(seen[2].data.size(), sizeof(tos));
        std::memcpy(&tos, seen[2].data.data(), sizeof(tos));
        EXPECT_EQ(tos, 2);
    }
}

/// Control bytes as a kernel lays them out.
class control_builder {
  public:
    template <typename T> control_builder& add(int level, int type, const T& value) {
        size_t at = _bytes.size();
        _bytes.resize(at + CMSG_SPACE(sizeof(T)));
        cmsghdr c{};
        c.cmsg_level = level;
        c.cmsg_type = type;
        c.cmsg_len = CMSG_LEN(sizeof(T));
        std::memcpy(_bytes.data() + at, &c, sizeof(c));
        std::memcpy(_bytes.data() + at + CMSG_LEN(0), &value, sizeof(T));
        return *this;
    }
    /// A header claiming `len` bytes, with nothing behind it.
    control_builder& add_raw_header(size_t len) {
        size_t at = _bytes.size();
        _bytes.resize(at + sizeof(cmsghdr));
        cmsghdr c{};
        c.cmsg_level = SOL_UDP;
        c.cmsg_type = UDP_GRO;
        c.cmsg_len = len;
        std::memcpy(_bytes.data() + at, &c, sizeof(c));
        return *this;
    }
    std::vector<unsigned char> bytes() const { return _bytes; }

  private:
    std::vector<unsigned char> _bytes;
};

std::string local_text(const datagram& d) {
    if (d.local.len == 0) {
        return "none";
    }
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port;
    if (d.local.addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&d.local.addr);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&d.local.addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    return std::string(host) + "#" + std::to_string(port);
}

TEST(DatagramControl, ReadsAddressEcnAndGroSegmentAndStopsAtAMalformedOne) {
    in_pktinfo pi4{};
    inet_pton(AF_INET, "127.0.0.2", &pi4.ipi_addr);
    in6_pktinfo pi6{};
    inet_pton(AF_INET6, "::1", &pi6.ipi6_addr);
    unsigned char tos = 0xb8 | 3; // DSCP EF and CE
    int tclass = 1;               // ECT(1)
    int seg = 1200;
    int huge_seg = 70000;
    struct control_case {
        const char* name;
        std::vector<unsigned char> bytes;
        size_t cut; ///< bytes taken off the end (8: into the last message's data, past its padding)
        std::string local;
        uint8_t ecn;
        uint16_t segment_size;
    };
    const control_case cases[] = {
        {"IPv4: pktinfo, TOS, GRO",
         control_builder()
             .add(IPPROTO_IP, IP_PKTINFO, pi4)
             .add(IPPROTO_IP, IP_TOS, tos)
             .add(SOL_UDP, UDP_GRO, seg)
             .bytes(),
         0, "127.0.0.2#443", 3, 1200},
        {"IPv6: pktinfo, traffic class",
         control_builder().add(IPPROTO_IPV6, IPV6_PKTINFO, pi6).add(IPPROTO_IPV6, IPV6_TCLASS, tclass).bytes(), 0,
         "::1#443", 1, 0},
        {"GRO size out of range is no batch", control_builder().add(SOL_UDP, UDP_GRO, huge_seg).bytes(), 0, "none", 0,
         0},
        {"a length past the end stops the read",
         control_builder().add(IPPROTO_IP, IP_TOS, tos).add_raw_header(4096).bytes(), 0, "none", 3, 0},
        {"a length shorter than a header stops the read",
         control_builder().add_raw_header(4).add(IPPROTO_IP, IP_TOS, tos).bytes(), 0, "none", 0, 0},
        {"a truncated last message is not read",
         control_builder().add(IPPROTO_IP, IP_TOS, tos).add(SOL_UDP, UDP_GRO, seg).bytes(), 8, "none", 3, 0},
        {"nothing", {}, 0, "none", 0, 0},
    };
    for (const control_case& c : cases) {
        SCOPED_TRACE(c.name);
        datagram d;
        std::vector<unsigned char> bytes = c.bytes;
        read_datagram_control(bytes.data(), bytes.size() - c.cut, 443, d);
        EXPECT_EQ(local_text(d), c.local);
        EXPECT_EQ(d.ecn, c.ecn);
        EXPECT_EQ(d.segment_size, c.segment_size);
    }
}

TEST(DatagramSegments, ABatchSplitsOnItsSegmentSize) {
    std::string bytes(2900, 'z');
    struct segment_case {
        size_t len;
        uint16_t segment_size;
        std::vector<size_t> expected;
    };
    const segment_case cases[] = {
        {2900, 1200, {1200, 1200, 500}},
        {2400, 1200, {1200, 1200}},
        {1000, 1200, {1000}},
        {2900, 0, {2900}},
        {0, 0, {0}},
        {0, 1200, {0}},
    };
    for (const segment_case& c : cases) {
        datagram d;
        d.data = bytes.data();
        d.len = c.len;
        d.segment_size = c.segment_size;
        std::vector<size_t> seen;
        const char* expect_at = bytes.data();
        for_each_segment(d, [&](const char* p, size_t n) {
            EXPECT_EQ(p, expect_at);
            expect_at += n;
            seen.push_back(n);
        });
        EXPECT_EQ(seen, c.expected) << c.len << " bytes by " << c.segment_size;
        EXPECT_EQ(segment_count(d), c.expected.size());
    }
}

} // namespace
} // namespace ringbolt::uring
