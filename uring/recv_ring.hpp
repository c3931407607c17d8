// The connections' receive buffers: the provided-buffer ring every connection's multishot
// recv selects from, holding what the reactor has in flight rather than a buffer for every
// connection that might have bytes. Where the kernel consumes buffers incrementally
// (IOU_PBUF_RING_INC), one buffer serves many small reads; elsewhere each read takes a
// whole buffer. Either way the ring offers few buffers at first, twice as many each turn a
// recv found none (ENOBUFS), and after a quiet while it is replaced by a small one, whose
// predecessor's pages go back to the system (docs/architecture.md, "The receive buffers").
#pragma once

#include "core/result.hpp"
#include "uring/compat.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt::uring {

/// The size of each incrementally consumed buffer: large enough that a request rarely
/// straddles two (each straddle is one completion more and a copy of the piece), small
/// enough that the few a quiet reactor cycles through stay a few pages.
inline constexpr uint32_t incremental_buffer_size = 32 * 1024;
/// Incremental consumption is used from this kernel on: it came in 6.12, but before 6.15
/// (and its stable backports, "io_uring: ensure deferred completions are flushed for
/// multishot") the last completion of a multishot recv could be posted after a later
/// recv's, and the bytes of each completion are found by the order they came in.
inline constexpr int incremental_buffers_kernel[2] = {6, 15};
/// Seconds without a dry ring after which a ring that offers more than the reactor uses
/// (fewer buffers came back than it offers, or no run took a quarter of them) is replaced
/// by a smaller one.
inline constexpr uint32_t recv_ring_quiet_seconds = 5;

/// How the receive buffers are laid out (recv_ring::plan; `ringbolt doctor` prints it).
struct recv_ring_plan {
    bool incremental = false;
    uint32_t buffer_size = 4096;
    uint32_t min_buffers = 64;   ///< offered at start and after a shrink
    uint32_t max_buffers = 4096; ///< offered at most (a power of two)
    uint64_t max_bytes() const noexcept { return uint64_t{max_buffers} * buffer_size; }
};

/// What the ring holds now (counters and tests).
struct recv_ring_stats {
    uint32_t offered = 0;  ///< buffers the current ring may hand out at once
    uint32_t touched = 0;  ///< buffers of the current ring that were ever handed out
    uint32_t retiring = 0; ///< buffers of a replaced ring not given back yet
    uint64_t grows = 0;    ///< turns that doubled the ring after a dry recv
    uint64_t shrinks = 0;  ///< replacements by a smaller ring
    uint32_t buffer_size = 0;
    uint64_t resident = 0; ///< bytes of the buffers' pages in memory now (mincore)
};

class recv_ring {
  public:
    recv_ring() = default;
    recv_ring(const recv_ring&) = delete;
    recv_ring& operator=(const recv_ring&) = delete;
    ~recv_ring();

    /// The layout for `max_bytes` of buffers (the old fixed ring's count x size) and
    /// `buffer_size` when each read takes a whole buffer; `incremental` where the kernel
    /// consumes buffers incrementally.
    static recv_ring_plan plan(uint32_t max_buffers, uint32_t buffer_size, bool incremental) noexcept;
    /// Whether this kernel's incremental consumption is one to use (version, then a
    /// registration with IOU_PBUF_RING_INC on `ring`; RINGBOLT_INCREMENTAL_BUFFERS=0 turns
    /// it off); `why_not` says why not.
    static bool incremental_usable(io_uring& ring, const char** why_not = nullptr) noexcept;
    /// The plan in words (`ringbolt doctor`, the docs): sizes, counts, growth and shrink.
    static std::string describe(const recv_ring_plan& plan);

    /// Register the ring (groups `group_id` and `group_id + 2` take turns across replacements).
    core::result<void> init(io_uring& ring, uint16_t group_id, const recv_ring_plan& plan) noexcept;
    void destroy() noexcept;

    const recv_ring_plan& layout() const noexcept { return _plan; }
    /// The group a recv armed now selects from, and which of the two rings that is.
    uint16_t group_id() const noexcept { return _gens[_cur].group; }
    uint8_t generation() const noexcept { return _cur; }

    /// Where the bytes of a completion that took buffer `bid` are.
    const char* data(uint16_t bid) const noexcept {
        return _memory + static_cast<size_t>(bid) * _plan.buffer_size + _offset[bid];
    }
    /// The completion's `len` bytes were parsed or copied. `kernel_keeps`
    /// (IORING_CQE_F_BUF_MORE): the kernel goes on filling the rest of the buffer; otherwise
    /// it is ours again (offered again at publish()).
    void consumed(uint16_t bid, uint32_t len, bool kernel_keeps) noexcept {
        if (kernel_keeps) {
            _offset[bid] += len;
            return;
        }
        _offset[bid] = 0;
        release(bid);
    }
    /// A recv armed on the current ring found it dry: it offers more at publish().
    void ran_dry() noexcept { ++_dry; }
    /// Once a turn, after its completions: offer what came back (and more after a dry
    /// recv). `cq_empty`: no completion is left in the queue (nor in its overflow list), so
    /// a replaced ring's last completions have all been taken and its pages can go.
    void publish(bool cq_empty) noexcept;
    /// Once a second: a quiet ring is replaced by a smaller one.
    void on_second() noexcept;

    /// What the ring holds; `resident` asks the kernel which pages are in memory (a system
    /// call: once a second, or in tests).
    recv_ring_stats stats(bool resident = false) const noexcept;

  private:
    struct ring_gen {
        io_uring_buf_ring* ring = nullptr;
        uint16_t group = 0;
        uint16_t bid_base = 0;
        bool registered = false;
        uint32_t offered = 0;       ///< buffers it may hand out at once
        uint32_t outstanding = 0;   ///< handed to the kernel and not back yet
        uint32_t fresh = 0;         ///< buffers ever handed out (bid_base .. bid_base + fresh)
        std::vector<uint16_t> free; ///< back from the kernel, the last back on top (its pages warm)
    };

    void release(uint16_t bid) noexcept;
    core::result<void> register_generation(ring_gen& g) noexcept;
    void unregister_generation(ring_gen& g) noexcept;
    void replace(uint32_t offered) noexcept;

    io_uring* _uring = nullptr;
    recv_ring_plan _plan;
    char* _memory = nullptr; ///< both rings' buffers: bid x buffer_size
    size_t _memory_bytes = 0;
    size_t _ring_bytes = 0;        ///< each ring's entries
    std::vector<uint32_t> _offset; ///< by bid: bytes the kernel filled already (incremental)
    ring_gen _gens[2];
    uint8_t _cur = 0;
    bool _retiring = false;     ///< the other generation was replaced and still has completions to come
    uint32_t _dry = 0;          ///< recvs that found the ring dry since the last publish
    uint32_t _run_base = 0;     ///< the offer when this run's first recv found the ring dry
    uint32_t _dry_in_run = 0;   ///< recvs that found it dry in this run
    bool _grew_in_run = false;  ///< the offer doubled since the completion queue was last seen empty
    uint32_t _taken_turn = 0;   ///< buffers back in this turn
    uint32_t _peak_turn = 0;    ///< the most buffers a turn took back, in the quiet window
    uint64_t _taken_window = 0; ///< buffers back since the quiet window began
    uint32_t _quiet_s = 0;
    uint64_t _grows = 0;
    uint64_t _shrinks = 0;
};

} // namespace ringbolt::uring
