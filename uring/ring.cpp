// io_uring set-up with fallbacks and the start-up probe (flags, opcodes, and a
// socketpair self-test of multishot recv into a provided buffer ring).
#include "uring/ring.hpp"

#include "uring/buffer_ring.hpp"
#include "uring/recv_ring.hpp"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace ringbolt::uring {

bool kernel_at_least(int major, int minor) noexcept {
    utsname u;
    if (uname(&u) != 0) {
        return false;
    }
    int ma = 0, mi = 0;
    if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) {
        return false;
    }
    return ma > major || (ma == major && mi >= minor);
}

namespace {

// What one multishot recv into a buffer ring did with "ping" sent over a socketpair.
struct recv_seen {
    bool completed = false; ///< a completion came within a second
    int res = 0;            ///< its result: 4, or -errno (EINVAL: an unknown flag or limit)
    bool buffer = false;    ///< IORING_CQE_F_BUFFER: the bytes went to a provided buffer
    bool more = false;      ///< IORING_CQE_F_MORE: the recv stays armed
};

// Arm a multishot recv into a buffer ring (group `group`) with a total byte limit `limit`
// (0: none; kernel 6.17+, multishot_recv_limit), send "ping", report the first completion.
recv_seen self_test_recv(io_uring& ring, uint16_t group, unsigned limit) noexcept {
    recv_seen seen;
    buffer_ring br;
    if (!br.init(ring, group, 2, 64).ok()) {
        return seen;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return seen;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe != nullptr) {
        io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = br.group_id();
        sqe->file_index = limit; // the kernel's `optlen` (same field; liburing 2.3 lacks the name)
        io_uring_sqe_set_data64(sqe, 1);
        if (::write(sv[1], "ping", 4) == 4) {
            io_uring_cqe* cqe = nullptr;
            __kernel_timespec ts{1, 0};
            if (io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, nullptr) >= 0 && cqe != nullptr) {
                seen.completed = true;
                seen.res = cqe->res;
                seen.buffer = cqe->flags & IORING_CQE_F_BUFFER;
                seen.more = cqe->flags & IORING_CQE_F_MORE;
                io_uring_cqe_seen(&ring, cqe);
            }
        }
    }
    ::close(sv[1]);
    ::close(sv[0]);
    // A recv still armed ends at the close (EOF/cancel): reap it before the buffer ring goes.
    bool ended = seen.completed && !seen.more;
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{0, 100'000'000};
    while (!ended && io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, nullptr) >= 0 && cqe != nullptr) {
        ended = !(cqe->flags & IORING_CQE_F_MORE);
        io_uring_cqe_seen(&ring, cqe);
    }
    return seen;
}

// Multishot recv into a buffer ring: the features the hot path needs ("ping" lands in a
// provided buffer and the recv stays armed).
bool self_test_multishot_recv(io_uring& ring) noexcept {
    recv_seen seen = self_test_recv(ring, 0x7ff0, 0);
    return seen.completed && seen.res == 4 && seen.buffer && seen.more;
}

// A multishot recv with a total byte limit (multishot_recv_limit; kernel 6.17+): with a
// limit of 4, "ping" ends it (no IORING_CQE_F_MORE); a kernel without refuses it (EINVAL).
bool self_test_recv_limit(io_uring& ring) noexcept {
    recv_seen seen = self_test_recv(ring, 0x7ff1, 4);
    return seen.completed && seen.res == 4 && !seen.more;
}

} // namespace

std::string describe_setup_failure(int sys_errno) {
    if (sys_errno == EPERM) {
        return "io_uring is blocked (EPERM): kernel.io_uring_disabled is set or a seccomp profile "
               "(Docker >= 25, containerd >= 2.0 defaults) forbids io_uring_setup";
    }
    if (sys_errno == ENOSYS) {
        return "io_uring is not available (ENOSYS): the kernel lacks it or a seccomp filter hides it";
    }
    if (sys_errno == ENOTSUP) { // probe_io_uring: set up, but without what the hot path needs
        return "io_uring lacks multishot accept/recv with buffer rings (kernel >= 6.0 needed)";
    }
    return std::string("io_uring_setup failed: ") + std::strerror(sys_errno);
}

core::result<void> setup_ring(io_uring& ring, unsigned entries, ring_features& f, unsigned cq_entries,
                              bool shared) noexcept {
    // The last attempt leaves out SUBMIT_ALL (5.18): a kernel older than that has a ring,
    // but not what the hot path needs, which the probe then says (ENOTSUP), rather than
    // "io_uring_setup failed: Invalid argument" (Debian 11's 5.10, in a VM: tools/kernel-vm).
    const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int last = 0;
    for (unsigned flags : attempts) {
        if (shared && (flags & IORING_SETUP_SINGLE_ISSUER)) {
            continue;
        }
        io_uring_params p{};
        p.flags = flags | IORING_SETUP_CQSIZE;
        p.cq_entries = cq_entries != 0 ? cq_entries : entries * 4; // multishot ops post many CQEs per SQE
        int rc = io_uring_queue_init_params(entries, &ring, &p);
        if (rc == 0) {
            f.setup_flags = p.flags;
            f.defer_taskrun = flags & IORING_SETUP_DEFER_TASKRUN;
            f.coop_taskrun = flags & IORING_SETUP_COOP_TASKRUN;
            f.ext_arg = p.features & IORING_FEAT_EXT_ARG;
            return {};
        }
        last = -rc;
        if (last == EPERM || last == ENOSYS) {
            return {core::errc::io_uring_blocked, last};
        }
        if (last != EINVAL) {
            break;
        }
    }
    return {core::errc::io_uring_setup, last};
}

namespace {

// Where the kernel puts the SQ's index array in the rings' mapping: after the CQEs, at a
// cache line (rings_size(), io_uring/io_uring.c). A resize on 6.18 gives the other
// offsets back but not this one (sq_off.array 0), so it is worked out, and the rule is
// first checked against the ring's own layout as set up.
constexpr size_t kernel_cache_line = 64;
size_t sq_array_offset(size_t cqes_offset, unsigned cq_entries, unsigned flags) noexcept {
    size_t cqe = flags & IORING_SETUP_CQE32 ? 32 : 16;
    size_t end = cqes_offset + cqe * cq_entries;
    return (end + kernel_cache_line - 1) / kernel_cache_line * kernel_cache_line;
}

} // namespace

int resize_cq(io_uring& ring, unsigned cq_entries, bool* unusable) noexcept {
    *unusable = false;
    auto offset_in = [](const void* at, const void* base) {
        return static_cast<size_t>(static_cast<const char*>(at) - static_cast<const char*>(base));
    };
    bool has_array = !(ring.flags & IORING_SETUP_NO_SQARRAY);
    if (has_array) {
        size_t cqes_at = offset_in(ring.cq.cqes, ring.cq.ring_ptr);
        if (ring.cq.ring_ptr != ring.sq.ring_ptr ||
            offset_in(ring.sq.array, ring.sq.ring_ptr) != sq_array_offset(cqes_at, ring.cq.ring_entries, ring.flags)) {
            return -ENOTSUP; // a layout this does not know: left as it is
        }
    }
    io_uring_params p{};
    p.sq_entries = ring.sq.ring_entries;
    p.cq_entries = cq_entries;
    p.flags = IORING_SETUP_CQSIZE;
    if (syscall(__NR_io_uring_register, ring.ring_fd, ringbolt_register_resize_rings, &p, 1) < 0) {
        return -errno;
    }
    // The kernel writes to the new queues from now on: map them in place of the old, as
    // liburing's io_uring_resize_rings (2.9) does, keeping what io_uring_queue_mmap resets.
    const io_uring old = ring;
    size_t sqe_bytes = size_t{old.flags & IORING_SETUP_SQE128 ? 128u : 64u} * old.sq.ring_entries;
    munmap(old.sq.sqes, sqe_bytes);
    munmap(old.sq.ring_ptr, old.sq.ring_sz);
    if (old.cq.ring_ptr != nullptr && old.cq.ring_ptr != old.sq.ring_ptr) {
        munmap(old.cq.ring_ptr, old.cq.ring_sz);
    }
    p.flags = old.flags;
    p.features = old.features;
    if (has_array && p.sq_off.array == 0) {
        p.sq_off.array = static_cast<__u32>(sq_array_offset(p.cq_off.cqes, p.cq_entries, old.flags));
    }
    int rc = io_uring_queue_mmap(old.ring_fd, &p, &ring);
    if (rc < 0) {
        // Nothing of the ring is mapped now: it is closed, and `ring` holds no pointer
        // (io_uring_queue_exit must not be called on it).
        ::close(old.ring_fd);
        ring = io_uring{};
        ring.ring_fd = -1;
        ring.enter_ring_fd = -1;
        *unusable = true;
        return rc;
    }
    ring.flags = old.flags;
    ring.features = old.features;
    ring.enter_ring_fd = old.enter_ring_fd;
    ring.int_flags = old.int_flags;
    ring.sq.sqe_head = old.sq.sqe_head;
    ring.sq.sqe_tail = old.sq.sqe_tail;
    if (!(old.flags & IORING_SETUP_NO_SQARRAY)) {
        for (unsigned i = 0; i < ring.sq.ring_entries; ++i) {
            ring.sq.array[i] = i; // SQ slot i is SQE i, as set up
        }
    }
    return 0;
}

namespace {

core::result<ring_features> probe_on_this_thread(bool shared) noexcept {
    io_uring ring;
    ring_features f;
    core::result<void> r = setup_ring(ring, 8, f, 0, shared);
    if (!r.ok()) {
        return {r.error(), r.sys_errno()};
    }
    bool opcodes_ok = false;
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
        opcodes_ok = io_uring_opcode_supported(probe, IORING_OP_ACCEPT) &&
                     io_uring_opcode_supported(probe, IORING_OP_RECV) &&
                     io_uring_opcode_supported(probe, IORING_OP_SEND) &&
                     io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL) &&
                     io_uring_opcode_supported(probe, IORING_OP_READ);
        io_uring_free_probe(probe);
    }
    f.multishot_accept = opcodes_ok && kernel_at_least(5, 19);
    f.buf_ring = kernel_at_least(5, 19);
    f.multishot_recv = opcodes_ok && f.buf_ring && self_test_multishot_recv(ring);
    f.recv_limit = f.multishot_recv && self_test_recv_limit(ring);
    f.incremental_buffers = f.multishot_recv && recv_ring::incremental_usable(ring, &f.incremental_why_not);
    io_uring_queue_exit(&ring);

    f.tier = f.defer_taskrun  ? "io_uring (single-issuer, defer-taskrun"
             : f.coop_taskrun ? "io_uring (coop-taskrun"
                              : "io_uring (basic";
    f.tier += f.multishot_accept && f.multishot_recv ? ", multishot accept+recv, buffer ring" : ", NO multishot";
    f.tier += f.recv_limit ? ", recv byte limit" : "";
    f.tier += f.incremental_buffers ? ", incremental buffers)" : ")";
    if (!f.multishot_accept || !f.multishot_recv) {
        return {core::errc::io_uring_setup, ENOTSUP};
    }
    return f;
}

} // namespace

// The probe rings run on a thread of their own that ends with them. Torn down on the
// caller's thread, a ring leaves the kernel's exit work to notify that thread (task work
// with TWA_SIGNAL) some milliseconds later: the caller's next blocking socket call with a
// timeout (SO_RCVTIMEO/SO_SNDTIMEO, which the kernel does not restart) then fails with
// EINTR although no signal was sent (tests/unit/uring/uring_backend_test.cpp, RingProbe). The caller
// is the thread that starts the server: Python's main thread, or a test's client.
core::result<ring_features> probe_io_uring(bool shared) noexcept {
    core::result<ring_features> out{core::errc::io_uring_setup, ENOTSUP};
    try {
        std::thread probe([&out, shared] { out = probe_on_this_thread(shared); });
        probe.join();
    } catch (const std::system_error&) {
        out = probe_on_this_thread(shared); // no thread to spare: probe here, accept the EINTR
    }
    return out;
}

} // namespace ringbolt::uring
