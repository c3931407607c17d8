// A provided-buffer ring (IORING_REGISTER_PBUF_RING) feeding multishot recv.
// liburing 2.3 has no io_uring_setup_buf_ring, so the ring memory is mapped here.
// Buffers go back one by one as their bytes are parsed; the tail is published once
// per loop turn.
#pragma once

#include "core/result.hpp"
#include "uring/compat.hpp"

#include <cstdint>
#include <vector>

namespace ringbolt::uring {

class buffer_ring {
  public:
    buffer_ring() = default;
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;
    ~buffer_ring();

    /// `count` must be a power of two (<= 32768).
    core::result<void> init(io_uring& ring, uint16_t group_id, uint32_t count, uint32_t buffer_size) noexcept;
    void destroy() noexcept;

    char* data(uint16_t bid) noexcept { return _buffers + static_cast<size_t>(bid) * _buffer_size; }
    uint32_t buffer_size() const noexcept { return _buffer_size; }
    uint16_t group_id() const noexcept { return _group_id; }

    /// Give a buffer back (visible to the kernel after publish()).
    void recycle(uint16_t bid) noexcept {
        io_uring_buf_ring_add(_ring, data(bid), _buffer_size, bid, _mask, _pending);
        ++_pending;
    }
    /// Make recycled buffers visible; once per loop turn.
    void publish() noexcept {
        if (_pending != 0) {
            io_uring_buf_ring_advance(_ring, _pending);
            _pending = 0;
        }
    }

  private:
    io_uring* _uring = nullptr;
    io_uring_buf_ring* _ring = nullptr;
    char* _buffers = nullptr;
    size_t _ring_bytes = 0;
    size_t _buffers_bytes = 0;
    uint32_t _count = 0;
    uint32_t _buffer_size = 0;
    int _mask = 0;
    int _pending = 0;
    uint16_t _group_id = 0;
};

} // namespace ringbolt::uring
