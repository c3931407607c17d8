// A first-in first-out queue over one growable ring of slots: elements are moved in and
// out, and nothing is allocated per element once the ring has grown to the queue's
// high-water mark (std::deque allocates a node per element for elements over 512 bytes,
// which an dispatch::app_request is: the handler pool's queue paid a malloc and a free per
// request).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace ringbolt::core {

template <typename T> class ring_fifo {
  public:
    ring_fifo() = default;
    ring_fifo(const ring_fifo&) = delete;
    ring_fifo& operator=(const ring_fifo&) = delete;
    ~ring_fifo() {
        while (!empty()) {
            pop_front();
        }
    }

    bool empty() const noexcept { return _size == 0; }
    size_t size() const noexcept { return _size; }
    size_t capacity() const noexcept { return _capacity; }

    /// Construct an element at the back (T's constructor or aggregate initialization).
    template <typename... Args> T& emplace_back(Args&&... args) {
        if (_size == _capacity) {
            grow();
        }
        T* p = new (slot(_size)) T{std::forward<Args>(args)...};
        ++_size;
        return *p;
    }

    /// The oldest element (the queue must not be empty).
    T& front() noexcept { return *element(0); }

    /// Destroy the oldest element (the queue must not be empty).
    void pop_front() noexcept {
        element(0)->~T();
        _head = (_head + 1) & (_capacity - 1);
        --_size;
    }

  private:
    struct storage {
        alignas(T) unsigned char bytes[sizeof(T)];
    };

    void* slot(size_t i) noexcept { return _slots[(_head + i) & (_capacity - 1)].bytes; }
    T* element(size_t i) noexcept { return std::launder(reinterpret_cast<T*>(slot(i))); }

    void grow() {
        size_t bigger = _capacity == 0 ? 16 : _capacity * 2; // a power of two: the index is a mask
        std::unique_ptr<storage[]> slots(new storage[bigger]);
        for (size_t i = 0; i < _size; ++i) {
            T* from = element(i);
            new (slots[i].bytes) T(std::move(*from));
            from->~T();
        }
        _slots = std::move(slots);
        _capacity = bigger;
        _head = 0;
    }

    std::unique_ptr<storage[]> _slots;
    size_t _capacity = 0;
    size_t _head = 0;
    size_t _size = 0;
};

} // namespace ringbolt::core
