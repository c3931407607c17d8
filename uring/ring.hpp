// Ring set-up with feature fallbacks, and the start-up probe of what the kernel offers.
#pragma once

#include "core/result.hpp"
#include "uring/compat.hpp"

#include <string>

namespace ringbolt::uring {

struct ring_features {
    unsigned setup_flags = 0;
    bool defer_taskrun = false;
    bool coop_taskrun = false;
    bool ext_arg = false;
    bool multishot_accept = false; ///< 5.19
    bool multishot_recv = false;   ///< 6.0
    bool buf_ring = false;         ///< 5.19
    bool recv_limit = false;       ///< 6.17: a multishot recv ends after a byte limit (multishot_recv_limit)
    std::string tier;              ///< human-readable summary for the start-up log line
    /// The receive buffers are consumed incrementally (recv_ring.hpp: 6.15+, a registration
    /// with IOU_PBUF_RING_INC taken); else `incremental_why_not` says why not.
    bool incremental_buffers = false;
    const char* incremental_why_not = nullptr;
};

/// Create `ring` with the best flags the kernel accepts:
/// SINGLE_ISSUER|DEFER_TASKRUN, else SINGLE_ISSUER|COOP_TASKRUN, else none.
/// `shared`: other threads may submit too (a hosted reactor's standby): COOP_TASKRUN,
/// else none (DEFER_TASKRUN would leave completions to the creating thread alone).
/// `cq_entries` 0: four times `entries` (multishot ops post many CQEs per SQE).
/// EPERM/ENOSYS (seccomp, kernel.io_uring_disabled) -> errc::io_uring_blocked.
/// Also the load generator's (tools/load), so both sides of a benchmark run one set-up.
core::result<void> setup_ring(io_uring& ring, unsigned entries, ring_features& features, unsigned cq_entries = 0,
                              bool shared = false) noexcept;

/// Resize `ring`'s completion queue to `cq_entries` (IORING_REGISTER_RESIZE_RINGS: kernel
/// 6.13+, a DEFER_TASKRUN ring; liburing 2.3 has no wrapper). The kernel copies what both
/// queues hold into new ones, which are then mapped in place of the old. Call from the
/// ring's own thread with every prepared SQE submitted and the CQ not in overflow (the
/// kernel refuses a resize then). Returns 0 or -errno: the kernel's refusal leaves the
/// ring as it was; a failure to map the new queues (`*unusable` set) closes it (`ring`
/// then holds no mapping: not for io_uring_queue_exit).
int resize_cq(io_uring& ring, unsigned cq_entries, bool* unusable) noexcept;

/// Probe once, on a short-lived thread of its own (throwaway ring, set up as setup_ring does
/// with `shared`): flags, opcodes, and a socketpair
/// self-test of multishot recv with a provided buffer ring. Never throws.
core::result<ring_features> probe_io_uring(bool shared = false) noexcept;

/// The running kernel's version is at least major.minor (uname).
bool kernel_at_least(int major, int minor) noexcept;

/// One line explaining why io_uring is unavailable, from the errno of a failed
/// setup_ring or probe_io_uring (ENOTSUP: no multishot accept/recv with buffer rings).
std::string describe_setup_failure(int sys_errno);

} // namespace ringbolt::uring
