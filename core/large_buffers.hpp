// Large answer buffers kept between answers: the memory a large body (a 1 MB JSON
// document) was written into goes, once its bytes are sent, to the next large body
// instead of back to the allocator, so writing it touches pages already mapped rather
// than fresh ones (a fault and a zeroed page per 4 KiB) each time. Process-wide: the
// thread that writes a body (Python's) is not always the one that sends it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringbolt::core::large_buffers {

/// A buffer of this capacity or more is kept once sent (smaller ones are the output
/// queue's own kept buffers' or the allocator's).
inline constexpr size_t min_capacity = 64 * 1024;
/// At most this many are kept, of at most max_bytes in all: enough for a turn's worth of
/// large answers (a batch of requests is answered before any answer is sent: each needs a
/// buffer of its own at once, memory the process holds then anyway) ...
inline constexpr size_t max_kept = 64;
inline constexpr size_t max_bytes = size_t{64} << 20;
/// ... and only while large answers are written: nobody asked for one for this long, and
/// the kept ones are freed (sweep) and sent ones no longer kept.
inline constexpr uint32_t idle_seconds = 5;

/// A kept buffer into `into` (which the caller then overwrites from its start; its
/// previous memory is freed): the smallest of at least `at_least` bytes of capacity, else
/// the largest. False when none is kept (`into` unchanged). Either way it counts as a
/// large answer being written, which keeps give() keeping.
bool take(std::string& into, size_t at_least) noexcept;
/// A buffer whose bytes are no longer needed (sent): kept when it is large, large answers
/// are being written, and there is room; else freed.
void give(std::string&& buffer) noexcept;
/// Once a second (a reactor's sweep): when no large answer was written for idle_seconds,
/// the kept buffers are freed. Returns the bytes freed (the reactor then gives them back
/// to the system with the rest of what it freed).
size_t sweep() noexcept;
/// Bytes kept now (capacity), and how many buffers.
size_t kept_bytes() noexcept;
size_t kept_count() noexcept;

} // namespace ringbolt::core::large_buffers
