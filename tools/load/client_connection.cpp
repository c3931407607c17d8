// Owns: opening and closing a client connection's socket (see client_connection.hpp).
#include "client_connection.hpp"

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt_load {

bool client_connection::open_socket(const load_target& target, int type, int64_t now) {
    close_socket();
    _error.clear();
    _now = now;
    _opened_ns = now;
    _fd = socket(target.family, type | SOCK_CLOEXEC, 0);
    if (_fd < 0) {
        _error = std::string("socket: ") + strerror(errno);
        return false;
    }
    return true;
}

void client_connection::close_socket() noexcept {
    if (_fd >= 0) {
        close(_fd);
        _fd = -1;
    }
    _goaway = false;
    _phase = phase::closed;
}

void client_connection::watch_reads(int epoll_fd, uint64_t key) const noexcept {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, _fd, &ev);
}

client_connection::recv_status client_connection::after_recv_error() noexcept {
    if (errno == EINTR) {
        return recv_status::again;
    }
    if (errno == EAGAIN) {
        return recv_status::drained;
    }
    // (UDP: ECONNREFUSED, an ICMP port unreachable came back: nothing listens)
    _error = std::string("receive: ") + strerror(errno);
    return recv_status::failed;
}

} // namespace ringbolt_load
