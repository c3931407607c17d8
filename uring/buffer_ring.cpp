// Buffer ring registration by hand (liburing 2.3).
#include "uring/buffer_ring.hpp"

#include <cerrno>
#include <sys/mman.h>

namespace ringbolt::uring {

buffer_ring::~buffer_ring() {
    destroy();
}

core::result<void> buffer_ring::init(io_uring& ring, uint16_t group_id, uint32_t count, uint32_t buffer_size) noexcept {
    if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
        return {core::errc::invalid_argument};
    }
    _ring_bytes = count * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, _ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        return {core::errc::out_of_memory, errno};
    }
    _buffers_bytes = static_cast<size_t>(count) * buffer_size;
    void* bufs = mmap(nullptr, _buffers_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (bufs == MAP_FAILED) {
        munmap(mem, _ring_bytes);
        return {core::errc::out_of_memory, errno};
    }
    _ring = static_cast<io_uring_buf_ring*>(mem);
    _buffers = static_cast<char*>(bufs);
    _count = count;
    _buffer_size = buffer_size;
    _mask = io_uring_buf_ring_mask(count);
    _group_id = group_id;
    io_uring_buf_ring_init(_ring);

    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(_ring);
    reg.ring_entries = count;
    reg.bgid = group_id;
    int rc = io_uring_register_buf_ring(&ring, &reg, 0);
    if (rc < 0) {
        munmap(_buffers, _buffers_bytes);
        munmap(_ring, _ring_bytes);
        _ring = nullptr;
        _buffers = nullptr;
        return {core::errc::no_buffers, -rc};
    }
    _uring = &ring;
    for (uint32_t i = 0; i < count; ++i) {
        recycle(static_cast<uint16_t>(i));
    }
    publish();
    return {};
}

void buffer_ring::destroy() noexcept {
    if (_uring != nullptr) {
        io_uring_unregister_buf_ring(_uring, _group_id);
        _uring = nullptr;
    }
    if (_buffers != nullptr) {
        munmap(_buffers, _buffers_bytes);
        _buffers = nullptr;
    }
    if (_ring != nullptr) {
        munmap(_ring, _ring_bytes);
        _ring = nullptr;
    }
}

} // namespace ringbolt::uring
