// Free lists of small blocks (see small_blocks.hpp). Each block carries a 16-byte header
// with its size class in front of what the caller gets, so release needs no size; classes
// are powers of two from 32 to 4096 bytes, larger blocks go to malloc.
#include "core/small_blocks.hpp"

#include <cstdlib>
#include <cstring>

namespace ringbolt::core {

namespace {

constexpr size_t header = 16; // keeps the caller's block 16-byte aligned, as malloc's
constexpr uint32_t large = UINT32_MAX;

struct block_header {
    uint32_t cls;
    uint32_t pad[3];
};
static_assert(sizeof(block_header) == header);

uint32_t class_of(size_t n) noexcept {
    if (n > (size_t{32} << (block_pool::classes - 1))) {
        return large;
    }
    uint32_t c = 0;
    while ((size_t{32} << c) < n) {
        ++c;
    }
    return c;
}

size_t class_size(uint32_t c) noexcept {
    return size_t{32} << c;
}

void* finish(void* raw, uint32_t cls) noexcept {
    if (raw == nullptr) {
        return nullptr;
    }
    static_cast<block_header*>(raw)->cls = cls;
    return static_cast<char*>(raw) + header;
}

block_header* header_of(void* p) noexcept {
    return reinterpret_cast<block_header*>(static_cast<char*>(p) - header);
}

} // namespace

block_pool::block_pool() {
    for (uint32_t c = 0; c < classes; ++c) {
        _kept[c].reserve(kept_bytes_per_class / class_size(c));
    }
}

block_pool::~block_pool() {
    clear();
}

void block_pool::clear() noexcept {
    for (auto& k : _kept) {
        for (void* p : k) {
            std::free(p);
        }
        k.clear(); // (its room stays: giving back still never allocates)
    }
}

void* block_pool::alloc(size_t n) noexcept {
    uint32_t cls = class_of(n);
    if (cls == large) {
        return finish(std::malloc(header + n), large);
    }
#if RINGBOLT_SMALL_BLOCKS_POOLED
    if (std::vector<void*>& k = _kept[cls]; !k.empty()) [[likely]] {
        void* raw = k.back();
        k.pop_back();
        return finish(raw, cls);
    }
#endif
    return finish(std::malloc(header + class_size(cls)), cls);
}

void block_pool::release(void* p) noexcept {
    if (p == nullptr) {
        return;
    }
    block_header* h = header_of(p);
#if RINGBOLT_SMALL_BLOCKS_POOLED
    if (h->cls != large) {
        std::vector<void*>& k = _kept[h->cls];
        if (k.size() < kept_bytes_per_class / class_size(h->cls)) [[likely]] {
            k.push_back(h); // (its room was reserved: no allocation)
            return;
        }
    }
#endif
    std::free(h);
}

void* block_pool::zeroed(size_t count, size_t size) noexcept {
    if (size != 0 && count > SIZE_MAX / size) {
        return nullptr;
    }
    void* p = alloc(count * size);
    if (p != nullptr) {
        std::memset(p, 0, count * size);
    }
    return p;
}

void* block_pool::resize(void* p, size_t n) noexcept {
    if (p == nullptr) {
        return alloc(n);
    }
    block_header* h = header_of(p);
    if (h->cls == large) {
        return finish(std::realloc(h, header + n), large);
    }
    size_t room = class_size(h->cls);
    if (n <= room) {
        return p; // its class holds it
    }
    void* q = alloc(n);
    if (q != nullptr) {
        std::memcpy(q, p, room);
        release(p);
    }
    return q;
}

size_t block_pool::kept() const noexcept {
    size_t n = 0;
    for (const auto& k : _kept) {
        n += k.size();
    }
    return n;
}

} // namespace ringbolt::core
