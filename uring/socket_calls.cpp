// The socket calls the loop makes outside the completion queue, as io_backend's
// defaults: plain system calls, shared by the io_uring and epoll backends; and kTLS's
// (ktls_calls.hpp), a TLS transport's.
#include "uring/backend.hpp"

#include "uring/listener.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::uring {

long io_backend::recv_now(int fd, void* buf, size_t len, int flags) noexcept {
    ssize_t n = ::recv(fd, buf, len, flags | MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

short io_backend::poll_now(int fd, short events) noexcept {
    pollfd p{fd, events, 0};
    if (::poll(&p, 1, 0) <= 0) {
        return 0;
    }
    return p.revents;
}

long io_backend::send_file(int fd, int file_fd, int64_t* offset, size_t len) noexcept {
    off_t off = static_cast<off_t>(*offset);
    ssize_t n = ::sendfile(fd, file_fd, &off, len);
    *offset = static_cast<int64_t>(off);
    return n < 0 ? -errno : n;
}

void io_backend::shutdown_socket(int fd, int how) noexcept {
    ::shutdown(fd, how);
}

receive_buffer_grant io_backend::probe_receive_buffer(int bytes) noexcept {
    receive_buffer_grant best;
    if (bytes <= 0) {
        return best;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return best;
    }
    for (int opt : {SO_RCVBUF, SO_RCVBUFFORCE}) {
        int have = 0;
        socklen_t len = sizeof(have);
        if (::setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) == 0 &&
            ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len) == 0 && have / 2 > best.bytes) {
            best = {opt, std::min(have / 2, bytes)}; // the kernel reports twice what it was asked
            if (best.bytes >= bytes) {
                break;
            }
        }
    }
    ::close(fd);
    return best;
}

void io_backend::raise_receive_buffer(int fd, int option, int bytes) noexcept {
    int have = 0;
    socklen_t len = sizeof(have);
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len) == 0 && have / 2 < bytes) {
        ::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof(bytes));
    }
}

int io_backend::unacked_bytes(int fd) noexcept {
    int unacked = 0;
    return ::ioctl(fd, SIOCOUTQ, &unacked) == 0 ? unacked : -1;
}

void io_backend::accept_queued(int listen_fd, unsigned max, io_events& events) noexcept {
    int flags = ::fcntl(listen_fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        ::fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK);
    }
    for (unsigned k = 0; k < max; ++k) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, accepted_socket_flags);
        if (fd < 0) {
            break;
        }
        events.on_accept(fd);
    }
    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        ::fcntl(listen_fd, F_SETFL, flags); // the listener may be shared with other workers
    }
}

void io_backend::close_socket(int fd) noexcept {
    ::close(fd);
}

bool io_backend::peer_name(int fd, sockaddr_storage& out) noexcept {
    socklen_t len = sizeof(out);
    return ::getpeername(fd, reinterpret_cast<sockaddr*>(&out), &len) == 0;
}

core::result<void> io_backend::refuse_connections(int listen_fd) noexcept {
    return refuse_new_connections(listen_fd);
}

int ktls_calls::attach_tls(int fd) noexcept {
    if (::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) == 0 || errno == EEXIST) {
        return 0;
    }
    return -errno;
}

int ktls_calls::set_tls_keys(int fd, tls_direction dir, std::span<const unsigned char> keys) noexcept {
    int option = dir == tls_direction::send ? TLS_TX : TLS_RX;
    return ::setsockopt(fd, SOL_TLS, option, keys.data(), static_cast<socklen_t>(keys.size())) == 0 ? 0 : -errno;
}

namespace {
constexpr uint8_t record_application_data = 23;
} // namespace

long ktls_calls::send_tls_record(int fd, uint8_t type, std::string_view body) noexcept {
    iovec iov{const_cast<char*>(body.data()), body.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(1)] = {};
    if (type != record_application_data) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_TLS;
        c->cmsg_type = TLS_SET_RECORD_TYPE;
        c->cmsg_len = CMSG_LEN(1);
        *CMSG_DATA(c) = type;
        msg.msg_controllen = c->cmsg_len;
    }
    ssize_t n;
    do {
        n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

long ktls_calls::recv_tls_record(int fd, std::span<char> into, uint8_t& type) noexcept {
    iovec iov{into.data(), into.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(1)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do {
        n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    const cmsghdr* c = CMSG_FIRSTHDR(&msg);
    type = c != nullptr && c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE ? *CMSG_DATA(c)
                                                                                           : record_application_data;
    return n;
}

int ktls_calls::take_socket_error(int fd) noexcept {
    int pending = 0;
    socklen_t len = sizeof(pending);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len) != 0) {
        return -errno;
    }
    return -pending;
}

} // namespace ringbolt::uring
