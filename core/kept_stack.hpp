// What the runtime keeps for the next request instead of freeing it: one bounded
// last-in-first-out list of values (sent output buffers, request buffers, kept objects'
// memory), and the one rule for letting them go when their owner ends.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace ringbolt::core {

/// Up to N values of T kept for reuse, last given first taken: the memory of a dead object
/// or a sent buffer goes to the next one of its kind, with no malloc and no free, as
/// CPython's own free lists do (floats, tuples, frames). Values are kept in place: moving a
/// std::string, a vector or a pointer in or out copies its pointer and lengths and never
/// touches what they point at, so the one taken is the one given last, still in cache.
///
/// No lock: its owner guards it (the GIL, or its thread for a thread_local one). release()
/// lets the values go and makes the stack keep nothing from then on: a later give answers
/// false (the caller frees the value at once), a later take false. Trivially destructible
/// and constant-initialized, so a stack is still usable after its owner's teardown ran (a
/// thread's thread_local destructors, the interpreter's exit): what comes then is freed.
template <typename T, size_t N> class kept_stack {
    static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_swappable_v<T>);

  public:
    size_t size() const noexcept { return _count; }

    /// The value given last, moved into `into` (which holds no memory: nothing is freed);
    /// false: none is kept, `into` is unchanged.
    bool take(T& into) noexcept {
        if (_count == 0) {
            return false;
        }
        T* kept = slot(--_count);
        using std::swap;
        swap(into, *kept); // (`into` held no memory: the kept one now holds nothing to free)
        kept->~T();
        return true;
    }

    /// True: `value` was moved in (the stack's until taken). False (full, or released):
    /// `value` is unchanged and the caller frees it.
    bool give(T& value) noexcept {
        if (_count >= _limit) {
            return false;
        }
        new (_slots[_count++]) T(std::move(value));
        return true;
    }

    /// Each kept value to `free_value` (a function of T&), then destroyed; later gives are
    /// kept again.
    template <typename F> void clear(F free_value) noexcept {
        while (_count > 0) {
            T* kept = slot(--_count);
            free_value(*kept);
            kept->~T();
        }
    }
    /// clear(), and nothing kept from now on (the owner ends).
    template <typename F> void release(F free_value) noexcept {
        _limit = 0;
        clear(free_value);
    }
    /// The same two for values that free what they own themselves (strings, vectors).
    void clear() noexcept {
        clear([](T&) noexcept {});
    }
    void release() noexcept {
        release([](T&) noexcept {});
    }

  private:
    T* slot(size_t i) noexcept { return std::launder(reinterpret_cast<T*>(_slots[i])); }

    alignas(T) unsigned char _slots[N][sizeof(T)] = {};
    size_t _count = 0;
    size_t _limit = N; ///< N, 0 once released
};

/// Calls `on_exit` (a function with no arguments) when the calling thread ends. The first
/// call on a thread registers it; a hot caller calls release_at_thread_exit instead.
template <auto on_exit> [[gnu::cold, gnu::noinline]] void at_thread_exit() noexcept {
    struct runner {
        ~runner() { on_exit(); }
    };
    static thread_local runner r;
    (void)r;
}

/// at_thread_exit<on_exit>() once per thread, `armed` (the thread's own flag, next to its
/// kept stacks) saying it was: how a thread_local kept_stack is released when the thread
/// that filled it ends. On the hot path this is one flag test.
template <auto on_exit> void release_at_thread_exit(bool& armed) noexcept {
    if (!armed) [[unlikely]] {
        armed = true;
        at_thread_exit<on_exit>();
    }
}

} // namespace ringbolt::core
