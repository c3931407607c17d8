// The receive ring's buffers: registration by hand (liburing 2.3), what is offered each
// turn, and the replacement of a quiet ring by a smaller one.
#include "uring/recv_ring.hpp"

#include "uring/ring.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace ringbolt::uring {

namespace {

/// The buffers offered at start (and after a shrink) without incremental consumption:
/// a turn at 64 busy connections takes about one each.
constexpr uint32_t classic_min_buffers = 64;
/// ... and with it: 128 KiB, the bytes of a few hundred small requests.
constexpr uint32_t incremental_min_buffers = 4;

uint32_t floor_pow2(uint64_t n) noexcept {
    return n == 0 ? 0 : static_cast<uint32_t>(std::bit_floor(std::min<uint64_t>(n, 32768)));
}

} // namespace

recv_ring::~recv_ring() {
    destroy();
}

recv_ring_plan recv_ring::plan(uint32_t max_buffers, uint32_t buffer_size, bool incremental) noexcept {
    recv_ring_plan p;
    uint64_t max_bytes = uint64_t{std::max(max_buffers, 1u)} * std::max(buffer_size, 64u);
    if (incremental) {
        // A quarter of the bytes at least per buffer, so a small test ring still has four.
        p.incremental = true;
        p.buffer_size = static_cast<uint32_t>(std::min<uint64_t>(incremental_buffer_size, max_bytes / 4));
        p.buffer_size = std::max(p.buffer_size & ~uint32_t{4095}, 4096u);
        p.max_buffers = std::max(floor_pow2(max_bytes / p.buffer_size), 1u);
        p.min_buffers = std::min(incremental_min_buffers, p.max_buffers);
    } else {
        p.buffer_size = std::max(buffer_size, 64u);
        p.max_buffers = std::max(floor_pow2(max_buffers), 1u);
        p.min_buffers = std::min(classic_min_buffers, p.max_buffers);
    }
    return p;
}

bool recv_ring::incremental_usable(io_uring& ring, const char** why_not) noexcept {
    const char* why = nullptr;
    if (const char* env = std::getenv("RINGBOLT_INCREMENTAL_BUFFERS"); env != nullptr && std::strcmp(env, "0") == 0) {
        why = "turned off (RINGBOLT_INCREMENTAL_BUFFERS=0)";
    } else if (!kernel_at_least(incremental_buffers_kernel[0], incremental_buffers_kernel[1])) {
        why = "kernel before 6.15 (incremental buffers came in 6.12; their completions keep their order from 6.15)";
    } else {
        // The kernel takes the flag (6.12+) or refuses the registration (EINVAL).
        recv_ring probe;
        if (!probe.init(ring, 0x7ff2, recv_ring_plan{true, 4096, 1, 1}).ok()) {
            why = "the kernel refused IOU_PBUF_RING_INC";
        }
    }
    if (why_not != nullptr) {
        *why_not = why;
    }
    return why == nullptr;
}

std::string recv_ring::describe(const recv_ring_plan& p) {
    auto size = [](uint64_t bytes) {
        return bytes >= (1u << 20) && bytes % (1u << 20) == 0 ? std::to_string(bytes >> 20) + " MiB"
                                                              : std::to_string(bytes >> 10) + " KiB";
    };
    return std::string(p.incremental ? "incremental, " : "whole buffers, ") + size(p.buffer_size) + " each, " +
           std::to_string(p.min_buffers) + " to " + std::to_string(p.max_buffers) + " a reactor (" +
           size(uint64_t{p.min_buffers} * p.buffer_size) + " to " + size(p.max_bytes()) +
           "): twice as many when a recv finds none, back to " + std::to_string(p.min_buffers) + " after " +
           std::to_string(recv_ring_quiet_seconds) + " s unused";
}

core::result<void> recv_ring::init(io_uring& ring, uint16_t group_id, const recv_ring_plan& plan) noexcept {
    if (plan.max_buffers == 0 || (plan.max_buffers & (plan.max_buffers - 1)) != 0 || plan.max_buffers > 32768 ||
        plan.min_buffers == 0 || plan.min_buffers > plan.max_buffers) {
        return {core::errc::invalid_argument};
    }
    _plan = plan;
    _uring = &ring;
    // Both rings' buffers in one reservation: pages are only resident once the kernel wrote them.
    _memory_bytes = size_t{2} * plan.max_buffers * plan.buffer_size;
    void* mem =
        mmap(nullptr, _memory_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        _uring = nullptr;
        return {core::errc::out_of_memory, errno};
    }
    _memory = static_cast<char*>(mem);
    _ring_bytes = std::max<size_t>(size_t{plan.max_buffers} * sizeof(io_uring_buf), 4096);
    _offset.assign(size_t{2} * plan.max_buffers, 0);
    for (uint8_t i = 0; i < 2; ++i) {
        _gens[i] = ring_gen{};
        _gens[i].group = static_cast<uint16_t>(group_id + 2 * i);
        _gens[i].bid_base = static_cast<uint16_t>(i * plan.max_buffers);
        _gens[i].free.reserve(plan.max_buffers);
    }
    _cur = 0;
    _gens[0].offered = plan.min_buffers;
    if (core::result<void> r = register_generation(_gens[0]); !r.ok()) {
        destroy();
        return r;
    }
    publish(true);
    return {};
}

core::result<void> recv_ring::register_generation(ring_gen& g) noexcept {
    void* mem = mmap(nullptr, _ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        return {core::errc::out_of_memory, errno};
    }
    g.ring = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(g.ring);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(g.ring);
    reg.ring_entries = _plan.max_buffers;
    reg.bgid = g.group;
    // the ring's flags: the 16 bits after bgid, which liburing 2.3 names `pad` and later
    // releases `flags` (so set by their place, for both)
    const uint16_t flags = _plan.incremental ? IOU_PBUF_RING_INC : 0;
    static_assert(sizeof(io_uring_buf_reg) == 40 && offsetof(io_uring_buf_reg, bgid) == 12);
    std::memcpy(reinterpret_cast<char*>(&reg) + offsetof(io_uring_buf_reg, bgid) + sizeof(reg.bgid), &flags,
                sizeof flags);
    int rc = io_uring_register_buf_ring(_uring, &reg, 0);
    if (rc < 0) {
        munmap(g.ring, _ring_bytes);
        g.ring = nullptr;
        return {core::errc::no_buffers, -rc};
    }
    g.registered = true;
    return {};
}

// The kernel lets go of the ring (recvs still armed on its group end with ENOBUFS at their
// next bytes); its entries' memory is free at once, its buffers once their completions are in.
void recv_ring::unregister_generation(ring_gen& g) noexcept {
    if (g.registered) {
        io_uring_unregister_buf_ring(_uring, g.group);
        g.registered = false;
    }
    if (g.ring != nullptr) {
        munmap(g.ring, _ring_bytes);
        g.ring = nullptr;
    }
}

void recv_ring::destroy() noexcept {
    if (_uring != nullptr) {
        unregister_generation(_gens[0]);
        unregister_generation(_gens[1]);
        _uring = nullptr;
    }
    if (_memory != nullptr) {
        munmap(_memory, _memory_bytes);
        _memory = nullptr;
    }
}

void recv_ring::release(uint16_t bid) noexcept {
    ring_gen& g = _gens[bid >= _plan.max_buffers ? 1 : 0];
    --g.outstanding;
    if (&g == &_gens[_cur]) [[likely]] {
        g.free.push_back(bid);
        ++_taken_turn;
        ++_taken_window;
    }
    // A replaced ring's buffer stays out: its pages go when the last completion is in.
}

void recv_ring::publish(bool cq_empty) noexcept {
    ring_gen& g = _gens[_cur];
    if (_dry != 0) [[unlikely]] {
        // Once a run (the dry recvs of one kernel batch come over several turns, a turn
        // taking 256 completions; a doubling each turn would offer the whole ring for one
        // burst, whose buffers the recvs then cycle through and keep resident): twice the
        // offer, and whole buffers as many more as recvs found none in the run (each read
        // takes one), so a burst is met by the next one's offer.
        if (!_grew_in_run) {
            _run_base = g.offered;
            _dry_in_run = 0;
        }
        _dry_in_run += _dry;
        _dry = 0;
        uint32_t want = 2 * _run_base;
        if (!_plan.incremental) {
            want = std::max(want, std::bit_ceil(std::min<uint32_t>(_run_base + _dry_in_run, 32768)));
        }
        want = std::min(want, _plan.max_buffers);
        if (want > g.offered) {
            g.offered = want;
            ++_grows;
        }
        _grew_in_run = true;
        _quiet_s = 0;
        _taken_window = 0;
        _peak_turn = 0;
    }
    // What the ring must hold is what comes back between two publishes.
    _peak_turn = std::max(_peak_turn, _taken_turn);
    _taken_turn = 0;
    int added = 0;
    while (g.outstanding < g.offered) {
        uint16_t bid;
        if (!g.free.empty()) {
            bid = g.free.back();
            g.free.pop_back();
        } else if (g.fresh < _plan.max_buffers) {
            bid = static_cast<uint16_t>(g.bid_base + g.fresh++);
        } else {
            break;
        }
        io_uring_buf_ring_add(g.ring, _memory + static_cast<size_t>(bid) * _plan.buffer_size, _plan.buffer_size, bid,
                              io_uring_buf_ring_mask(_plan.max_buffers), added++);
        ++g.outstanding;
    }
    if (added != 0) {
        io_uring_buf_ring_advance(g.ring, added);
    }
    if (!cq_empty) {
        return;
    }
    _grew_in_run = false; // a run ends: every buffer the kernel took in it is back
    if (_retiring) [[unlikely]] {
        // Every completion of the replaced ring is in: nothing of its buffers is read again.
        ring_gen& old = _gens[_cur ^ 1];
        size_t base = size_t{old.bid_base} * _plan.buffer_size;
        madvise(_memory + base, size_t{_plan.max_buffers} * _plan.buffer_size, MADV_DONTNEED);
        std::fill(_offset.begin() + old.bid_base, _offset.begin() + old.bid_base + _plan.max_buffers, 0);
        old.free.clear();
        old.outstanding = 0;
        old.fresh = 0;
        old.offered = 0;
        _retiring = false;
    }
}

void recv_ring::on_second() noexcept {
    _grew_in_run = false; // (a queue never seen empty still grows once a second)
    ring_gen& g = _gens[_cur];
    if (++_quiet_s < recv_ring_quiet_seconds) {
        return;
    }
    // No dry recv for a while, and the ring offers more than the reactor uses: the buffers
    // that came back would not have filled it once (idle after a burst), or no turn took a
    // quarter of it (a load that shrank). The offer then is half as much again as the most a
    // turn took (rounded up to a power of two).
    uint32_t need = std::max(_plan.min_buffers, std::bit_ceil(_peak_turn + _peak_turn / 2 + 1));
    if (!_retiring && g.offered > _plan.min_buffers &&
        (_taken_window < g.offered || uint64_t{4} * _peak_turn <= g.offered)) {
        replace(std::min(need, g.offered / 2));
    }
    _quiet_s = 0;
    _taken_window = 0;
    _peak_turn = 0;
}

void recv_ring::replace(uint32_t offered) noexcept {
    ring_gen& next = _gens[_cur ^ 1];
    next.offered = std::clamp(offered, _plan.min_buffers, _plan.max_buffers);
    if (!register_generation(next).ok()) {
        return; // keep the ring there is
    }
    uint8_t old = _cur;
    _cur ^= 1;
    unregister_generation(_gens[old]);
    _retiring = true;
    ++_shrinks;
    publish(false);
}

recv_ring_stats recv_ring::stats(bool resident) const noexcept {
    recv_ring_stats s;
    const ring_gen& g = _gens[_cur];
    s.offered = g.offered;
    s.touched = g.fresh;
    s.retiring = _retiring ? _gens[_cur ^ 1].fresh : 0;
    s.grows = _grows;
    s.shrinks = _shrinks;
    s.buffer_size = _plan.buffer_size;
    if (resident && _memory != nullptr) {
        // Only the buffers each ring ever handed out can be resident: the rest of the
        // reservation was never touched (a few pages to ask about, not 32 MiB's).
        static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        std::vector<unsigned char> in;
        for (const ring_gen& gen : _gens) {
            size_t bytes = size_t{gen.fresh} * _plan.buffer_size;
            in.resize((bytes + page - 1) / page);
            if (bytes != 0 && mincore(_memory + size_t{gen.bid_base} * _plan.buffer_size, bytes, in.data()) == 0) {
                for (unsigned char c : in) {
                    s.resident += (c & 1) ? page : 0;
                }
            }
        }
    }
    return s;
}

} // namespace ringbolt::uring
