// epoll emulation of the completion interface: sends are attempted at once and finish
// on EPOLLOUT when the socket is full; reads happen when a socket is readable.
#include "uring/epoll_backend.hpp"

#include "core/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ringbolt::uring {

namespace {
constexpr uint64_t listen_tag = ~0ull;
constexpr uint64_t wake_tag = ~0ull - 1;
} // namespace

epoll_backend::~epoll_backend() {
    if (_epfd >= 0) {
        ::close(_epfd);
    }
}

core::result<void> epoll_backend::setup(const backend_config& config, int wake_fd) noexcept {
    _epfd = epoll_create1(EPOLL_CLOEXEC);
    if (_epfd < 0) {
        return {core::errc::system, errno};
    }
    _wake_fd = wake_fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = wake_tag;
    epoll_ctl(_epfd, EPOLL_CTL_ADD, wake_fd, &ev);
    _scratch.resize(config.buffer_size < 16384 ? 16384 : config.buffer_size);
    return {};
}

epoll_backend::fd_state& epoll_backend::state(int fd) {
    if (static_cast<size_t>(fd) >= _fds.size()) {
        _fds.resize(static_cast<size_t>(fd) * 2 + 64);
    }
    return _fds[static_cast<size_t>(fd)];
}

void epoll_backend::update(int fd, fd_state& st) noexcept {
    uint32_t want =
        (st.reading ? EPOLLIN | EPOLLRDHUP : 0u) | (st.send_msg != nullptr || st.want_writable ? EPOLLOUT : 0u);
    if (st.registered && want == st.events) {
        return; // (a receive into a body armed again right after the last one ended)
    }
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = static_cast<uint64_t>(fd);
    if (!st.registered) {
        if (want == 0) {
            return;
        }
        epoll_ctl(_epfd, EPOLL_CTL_ADD, fd, &ev);
        st.registered = true;
    } else {
        epoll_ctl(_epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    st.events = want;
}

void epoll_backend::arm_accept(int listen_fd) noexcept {
    _listen_fd = listen_fd;
    int flags = fcntl(listen_fd, F_GETFL);
    fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE; // a listener shared by worker processes wakes one of them
    ev.data.u64 = listen_tag;
    epoll_ctl(_epfd, EPOLL_CTL_ADD, listen_fd, &ev);
}

void epoll_backend::cancel_accept(int) noexcept {
    if (_listen_fd < 0) {
        return; // already ended (an error is pending, or a cancel): one end per arm
    }
    end_accept(-ECANCELED);
}

void epoll_backend::end_accept(int res) noexcept {
    epoll_ctl(_epfd, EPOLL_CTL_DEL, _listen_fd, nullptr);
    _listen_fd = -1;
    _pending.push_back({deferred_completion::accept_end, 0, 0, res});
}

void epoll_backend::arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept {
    fd_state& st = state(fd);
    if (st.slot != slot || st.gen != gen) {
        st = fd_state{.slot = slot, .gen = gen, .registered = st.registered, .events = st.events};
    }
    st.reading = true;
    st.room = nullptr;
    update(fd, st);
}

bool epoll_backend::arm_recv_into(int fd, uint32_t slot, uint16_t gen, std::span<char> room) noexcept {
    arm_recv(fd, slot, gen);
    fd_state& st = state(fd);
    st.room = room.data();
    st.room_len = room.size();
    return true;
}

void epoll_backend::cancel_recv(int fd, uint32_t slot, uint16_t gen) noexcept {
    fd_state& st = state(fd);
    if (st.reading) {
        st.reading = false;
        st.room = nullptr;
        update(fd, st);
        _pending.push_back({deferred_completion::recv_cancelled, slot, gen, -ECANCELED});
    }
}

void epoll_backend::send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg, bool more) noexcept {
    fd_state& st = state(fd);
    st.slot = slot;
    st.gen = gen;
    st.send_more = more;
    counters->sqes_submitted.add();
    ssize_t n = ::sendmsg(fd, msg, MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        _pending.push_back({deferred_completion::sent, slot, gen, n >= 0 ? static_cast<int>(n) : -errno});
        return;
    }
    st.send_msg = msg; // socket full: finish when writable
    update(fd, st);
}

void epoll_backend::poll_writable(int fd, uint32_t slot, uint16_t gen) noexcept {
    fd_state& st = state(fd);
    st.slot = slot;
    st.gen = gen;
    st.want_writable = true;
    update(fd, st);
}

void epoll_backend::try_send(int fd, fd_state& st) noexcept {
    ssize_t n = ::sendmsg(fd, st.send_msg, MSG_NOSIGNAL | MSG_DONTWAIT | (st.send_more ? MSG_MORE : 0));
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    st.send_msg = nullptr;
    update(fd, st);
    _pending.push_back({deferred_completion::sent, st.slot, st.gen, n >= 0 ? static_cast<int>(n) : -errno});
}

void epoll_backend::forget(int fd) noexcept {
    fd_state& st = state(fd);
    if (st.registered) {
        epoll_ctl(_epfd, EPOLL_CTL_DEL, fd, nullptr);
    }
    st = fd_state{};
}

bool epoll_backend::wait(unsigned timeout_ms, io_events& events) noexcept {
    // Completions already known (sends that went through at once, cancels) do not wait.
    int timeout = _pending.empty() && !dgram_completions_due() ? static_cast<int>(timeout_ms) : 0;
    epoll_event evs[max_completions_per_wait];
    int n = epoll_wait(_epfd, evs, max_completions_per_wait, timeout);
    counters->submit_calls.add();
    if (n < 0 && errno != EINTR) {
        core::log(core::log_level::error, "epoll_wait failed: %s", std::strerror(errno));
        return false;
    }
    events.on_wait_end();
    std::vector<deferred_completion> done;
    done.swap(_pending);
    for (const deferred_completion& p : done) {
        p.report(events);
    }
    report_datagram_completions(events);
    for (int i = 0; i < n; ++i) {
        uint64_t tag = evs[i].data.u64;
        if (tag == wake_tag) {
            uint64_t v;
            ssize_t ignored = ::read(_wake_fd, &v, sizeof(v));
            (void)ignored;
            continue;
        }
        if (tag == listen_tag) {
            for (int k = 0; k < 64 && _listen_fd >= 0; ++k) {
                int fd = accept4(_listen_fd, nullptr, nullptr, accepted_socket_flags);
                if (fd < 0) {
                    if (errno != EAGAIN && errno != EWOULDBLOCK) {
                        // The listener stays readable while accept fails (EMFILE leaves the
                        // connection queued): level-triggered, the next wait would return at
                        // once, forever. End the accept as io_uring's does on an error; the
                        // reactor decides when to arm it again.
                        end_accept(-errno);
                    }
                    break;
                }
                events.on_accept(fd);
            }
            continue;
        }
        if ((tag & dgram_tag) != 0) {
            on_dgram_ready(static_cast<uint32_t>(tag & ~dgram_tag), evs[i].events, events);
            continue;
        }
        int fd = static_cast<int>(tag);
        fd_state& st = state(fd);
        counters->cqes_reaped.add();
        if ((evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && st.send_msg != nullptr) {
            try_send(fd, st);
        }
        if ((evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && st.want_writable) {
            st.want_writable = false;
            update(fd, st);
            events.on_writable(st.slot, st.gen, (evs[i].events & EPOLLOUT) ? 0 : -EPIPE);
        }
        if ((evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) && st.reading && st.room != nullptr) {
            // arm_recv_into: one read into the caller's room, then reading is off until armed
            // again (usually at once, from on_recv_into: the epoll set is changed only if not).
            ssize_t r = ::recv(fd, st.room, st.room_len, MSG_DONTWAIT);
            if (r > 0) {
                st.reading = false;
                st.room = nullptr;
                _reads_done.push_back(fd);
                events.on_recv_into(st.slot, st.gen, static_cast<size_t>(r));
            } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                st.reading = false;
                st.room = nullptr;
                update(fd, st);
                events.on_recv_end(st.slot, st.gen, r == 0 ? recv_end::eof : recv_end::error);
            }
        } else if ((evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) && st.reading) {
            ssize_t r = ::recv(fd, _scratch.data(), _scratch.size(), MSG_DONTWAIT);
            if (r > 0) {
                events.on_recv(st.slot, st.gen, _scratch.data(), static_cast<size_t>(r));
            } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                st.reading = false;
                update(fd, st);
                events.on_recv_end(st.slot, st.gen,
                                   r == 0             ? recv_end::eof
                                   : errno == EIO     ? recv_end::tls_record
                                   : errno == EBADMSG ? recv_end::bad_record
                                                      : recv_end::error);
            }
        }
    }
    for (int fd : _reads_done) {
        fd_state& st = state(fd);
        if (!st.reading) {
            update(fd, st); // not armed again (paused, closing): EPOLLIN off
        }
    }
    _reads_done.clear();
    // Sends queued while dispatching complete in the next turn (zero timeout then).
    return true;
}

} // namespace ringbolt::uring
