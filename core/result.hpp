// Result type for the I/O path: no exceptions, an error enum and a value.
// Modelled on simdjson's error_code/simdjson_result<T> with a TRY macro.
#pragma once

#include <cstdint>
#include <utility>

namespace ringbolt::core {

/// Errors of the runtime (not HTTP statuses: those live in http/http_error.hpp).
enum class errc : uint8_t {
    ok = 0,           ///< no error
    io_uring_blocked, ///< io_uring_setup returned EPERM/ENOSYS (seccomp, kernel.io_uring_disabled)
    io_uring_setup,   ///< io_uring_setup failed for another reason (see errno)
    no_buffers,       ///< the provided buffer ring could not be registered
    bind_failed,      ///< socket/bind/listen failed
    out_of_memory,    ///< an allocation failed
    invalid_argument, ///< a configuration value is out of range
    system,           ///< another system call failed (see errno)
};

const char* errc_name(errc e) noexcept;

template <class T> class [[nodiscard]] result {
  public:
    result(T value) : _value(std::move(value)), _error(errc::ok) {}
    result(errc e, int sys_errno = 0) : _value(), _error(e), _errno(sys_errno) {}

    [[nodiscard]] bool ok() const noexcept { return _error == errc::ok; }
    [[nodiscard]] errc error() const noexcept { return _error; }
    [[nodiscard]] int sys_errno() const noexcept { return _errno; }
    T& value() & noexcept { return _value; }
    T&& value() && noexcept { return std::move(_value); }

  private:
    T _value;
    errc _error;
    int _errno = 0;
};

template <> class [[nodiscard]] result<void> {
  public:
    result() : _error(errc::ok) {}
    result(errc e, int sys_errno = 0) : _error(e), _errno(sys_errno) {}
    [[nodiscard]] bool ok() const noexcept { return _error == errc::ok; }
    [[nodiscard]] errc error() const noexcept { return _error; }
    [[nodiscard]] int sys_errno() const noexcept { return _errno; }

  private:
    errc _error;
    int _errno = 0;
};

} // namespace ringbolt::core

/// Propagate an error from an expression returning result<...>.
#define RB_TRY(expr)                                                                                                   \
    do {                                                                                                               \
        auto&& _rb_try_res = (expr);                                                                                   \
        if (!_rb_try_res.ok()) [[unlikely]] {                                                                          \
            return {_rb_try_res.error(), _rb_try_res.sys_errno()};                                                     \
        }                                                                                                              \
    } while (0)
