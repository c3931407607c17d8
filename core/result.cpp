// Names of runtime errors, for logs.
#include "core/result.hpp"

namespace ringbolt::core {

const char* errc_name(errc e) noexcept {
    switch (e) {
    case errc::ok:
        return "ok";
    case errc::io_uring_blocked:
        return "io_uring blocked";
    case errc::io_uring_setup:
        return "io_uring setup failed";
    case errc::no_buffers:
        return "buffer ring registration failed";
    case errc::bind_failed:
        return "bind/listen failed";
    case errc::out_of_memory:
        return "out of memory";
    case errc::invalid_argument:
        return "invalid argument";
    case errc::system:
        return "system call failed";
    }
    return "unknown";
}

} // namespace ringbolt::core
