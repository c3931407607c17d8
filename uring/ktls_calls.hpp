// The socket calls of kTLS: the kernel's TLS layer attached to a socket, its keys, and the
// records other than data that go out or come in with their type (control messages). A
// TLS transport makes them through this interface, the io layer's as every socket call is:
// io_backend is one (its defaults are the system calls, socket_calls.cpp), so a backend
// without a kernel (fake_backend) answers and records them too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringbolt::uring {

/// Which side of a connection a set of kTLS keys is for (TLS_TX, TLS_RX).
enum class tls_direction : uint8_t { send, receive };

class ktls_calls {
  public:
    virtual ~ktls_calls() = default;
    /// The kernel's TLS layer on the TCP socket `fd` (TCP_ULP "tls"; one already there
    /// counts): 0, or -errno (-ENOENT: the kernel has none).
    virtual int attach_tls(int fd) noexcept;
    /// `keys` (a struct tls12_crypto_info_*, as linux/tls.h lays it out) for one direction
    /// of `fd`: from then on the kernel makes (send) or opens (receive) its records. 0, or
    /// -errno (EBUSY: the socket has keys and this kernel takes no new ones).
    virtual int set_tls_keys(int fd, tls_direction dir, std::span<const unsigned char> keys) noexcept;
    /// One record of `type` (23: application data) holding `body`, made by the kernel and
    /// sent whole or not at all (MSG_DONTWAIT): bytes sent, or -errno.
    virtual long send_tls_record(int fd, uint8_t type, std::string_view body) noexcept;
    /// One record the kernel opened, into `into`, with its type in `type` (23 when the
    /// kernel says none: application data): bytes read, 0 at the peer's end, or -errno
    /// (-EAGAIN: none waits).
    virtual long recv_tls_record(int fd, std::span<char> into, uint8_t& type) noexcept;
    /// The error the kernel left pending on `fd` (SO_ERROR), which fails its next call
    /// (after a record that did not decrypt): taken, so that the next call goes through.
    /// The error as -errno, 0 for none.
    virtual int take_socket_error(int fd) noexcept;
};

} // namespace ringbolt::uring
