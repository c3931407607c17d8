// Small blocks for the C libraries a connection runs on (nghttp3, ngtcp2), which allocate
// about a dozen times per HTTP/3 request: free lists by size class, so a request's blocks
// are the last request's, with no malloc or free in between. One pool a reactor (the
// libraries' allocator is given it as user data: no thread-local lookup per block).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringbolt::core {

#if defined(__SANITIZE_ADDRESS__)
#define RINGBOLT_SMALL_BLOCKS_POOLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define RINGBOLT_SMALL_BLOCKS_POOLED 0
#endif
#endif
#ifndef RINGBOLT_SMALL_BLOCKS_POOLED
#define RINGBOLT_SMALL_BLOCKS_POOLED 1
#endif

/// Blocks of 32 bytes to 4 KiB kept by size class for their next use (up to 256 KiB of
/// each class, 2 MiB at most), larger ones from malloc. malloc's contract otherwise: 16-byte alignment,
/// null on failure. Not thread-safe: its owner's thread only. Under AddressSanitizer every
/// block goes to malloc (a kept block would hide a use after free from it). It must
/// outlive every block it gave: what is released after it is freed by malloc's free.
class block_pool {
  public:
    block_pool(); ///< each class's list has its room at once (130 KiB): giving back never allocates
    ~block_pool();
    block_pool(const block_pool&) = delete;
    block_pool& operator=(const block_pool&) = delete;

    void* alloc(size_t n) noexcept;
    void release(void* p) noexcept;
    void* zeroed(size_t count, size_t size) noexcept;
    void* resize(void* p, size_t n) noexcept;
    /// Free every kept block (before memory is given back to the system: kept blocks strewn
    /// over the heap would keep its pages resident).
    void clear() noexcept;
    /// Blocks kept now (for tests).
    size_t kept() const noexcept;

    static constexpr size_t classes = 8; ///< 32, 64, ..., 4096 bytes
    /// False under a sanitizer that checks memory: every block from malloc, none kept.
    static constexpr bool pooled = RINGBOLT_SMALL_BLOCKS_POOLED != 0;
    /// Bytes kept of each class: a turn of 128 requests takes and gives back some hundreds
    /// of blocks of one class at once (a bound of 128 blocks made it free and malloc four
    /// blocks a request in turn).
    static constexpr size_t kept_bytes_per_class = 256 * 1024;

  private:
    std::vector<void*> _kept[classes]; ///< the raw blocks (headers), last given first taken
};

} // namespace ringbolt::core
