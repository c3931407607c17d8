// An owning reference to a record a connection shares with its requests, on any thread
// (core/tls_info.hpp, core/proxy_info.hpp): one pointer with an intrusive count, so a
// request that has none moves and dies as cheaply as a raw pointer (a shared_ptr is two
// words to move and null). The record has `mutable std::atomic<uint32_t> refs`; the last
// reference deletes it.
#pragma once

#include <atomic>
#include <utility>

namespace ringbolt::core {

template <typename Record> class counted_ref {
  public:
    counted_ref() noexcept = default;
    explicit counted_ref(const Record* p) noexcept : _p(p) {
        if (_p != nullptr) {
            _p->refs.fetch_add(1, std::memory_order_relaxed);
        }
    }
    counted_ref(const counted_ref& o) noexcept : counted_ref(o._p) {}
    counted_ref(counted_ref&& o) noexcept : _p(std::exchange(o._p, nullptr)) {}
    counted_ref& operator=(counted_ref o) noexcept {
        std::swap(_p, o._p);
        return *this;
    }
    ~counted_ref() {
        if (_p != nullptr) [[unlikely]] {
            release(_p);
        }
    }
    const Record* get() const noexcept { return _p; }
    const Record& operator*() const noexcept { return *_p; }
    const Record* operator->() const noexcept { return _p; }
    explicit operator bool() const noexcept { return _p != nullptr; }

  private:
    static void release(const Record* p) noexcept {
        if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            delete p;
        }
    }
    const Record* _p = nullptr;
};

} // namespace ringbolt::core
