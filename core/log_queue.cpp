// The log queue: producers copy a line into a free slot under the lock; the writer takes
// every queued line at once, writes them with the lock released, then frees the slots.
// A drop can only happen while the queue is full, so the drops the writer takes along
// with a batch all came after every line of that batch: it reports them right after it.
#include "core/log_queue.hpp"

#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

namespace ringbolt::core {

log_queue::log_queue(int fd, size_t slots) : _fd(fd), _capacity(slots), _slots(new slot[slots]) {}

log_queue::~log_queue() {
    bool join;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _stop = true;
        join = _writer_running;
    }
    _wake_writer.notify_one();
    if (join) {
        pthread_join(_writer, nullptr);
    }
}

bool log_queue::push(std::string_view line) noexcept {
    size_t len = line.size() < line_max - 1 ? line.size() : line_max - 1;
    bool newline = len == 0 || line[len - 1] != '\n';
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (!_writer_running) {
            start_writer(); // if it cannot start, the line waits in its slot for a later push's retry
        }
        if (_count == _capacity) [[unlikely]] {
            ++_unreported;
            _dropped.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        slot& s = _slots[(_head + _count) % _capacity];
        std::memcpy(s.text, line.data(), len);
        if (newline) {
            s.text[len++] = '\n';
        }
        s.len = static_cast<uint16_t>(len);
        ++_count;
        ++_pushed;
    }
    _wake_writer.notify_one();
    return true;
}

bool log_queue::flush(int timeout_ms) noexcept {
    std::unique_lock<std::mutex> lock(_mutex);
    uint64_t target = _pushed;
    if (_written >= target) {
        return true;
    }
    if (!_writer_running && !start_writer()) {
        return false;
    }
    return _progress.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return _written >= target; });
}

// Called with _mutex held.
bool log_queue::start_writer() noexcept {
    // Signals belong to the threads that handle them (Python's main thread): the writer
    // starts with all of them blocked, inherited from this mask.
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    _writer_running = pthread_create(&_writer, nullptr, &log_queue::writer_main, this) == 0;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return _writer_running;
}

void* log_queue::writer_main(void* self) noexcept {
    static_cast<log_queue*>(self)->write_loop();
    return nullptr;
}

void log_queue::write_loop() noexcept {
    std::unique_lock<std::mutex> lock(_mutex);
    while (true) {
        // Drops can be pending with nothing queued: the batch in flight was the whole
        // queue, and every push during its write found no free slot.
        _wake_writer.wait(lock, [this] { return _count != 0 || _unreported != 0 || _stop; });
        if (_count == 0 && _unreported == 0) {
            return; // stopping, and everything is written
        }
        size_t first = _head;
        size_t n = _count;
        uint64_t dropped = _unreported;
        _unreported = 0;
        lock.unlock();
        write_slots(first, n);
        if (dropped != 0) {
            char note[128];
            int len = std::snprintf(note, sizeof(note),
                                    "[ringbolt] WARNING: %llu log line(s) dropped: the log output did not keep up\n",
                                    static_cast<unsigned long long>(dropped));
            write_all(note, static_cast<size_t>(len));
        }
        lock.lock();
        _head = (_head + n) % _capacity;
        _count -= n;
        _written += n;
        _progress.notify_all();
    }
}

void log_queue::write_slots(size_t first, size_t n) noexcept {
    // One writev per run of contiguous slots, at most IOV_MAX lines each.
    constexpr size_t max_iov = 64 < IOV_MAX ? 64 : IOV_MAX;
    iovec iov[max_iov];
    while (n != 0) {
        size_t k = 0;
        size_t bytes = 0;
        while (k < n && k < max_iov && first + k < _capacity) {
            iov[k].iov_base = _slots[first + k].text;
            iov[k].iov_len = _slots[first + k].len;
            bytes += _slots[first + k].len;
            ++k;
        }
        ssize_t w = ::writev(_fd, iov, static_cast<int>(k));
        if (w >= 0 && static_cast<size_t>(w) < bytes) {
            // Short write: finish these lines one by one from where it stopped.
            size_t done = static_cast<size_t>(w);
            for (size_t i = 0; i < k; ++i) {
                size_t len = iov[i].iov_len;
                if (done < len) {
                    write_all(static_cast<const char*>(iov[i].iov_base) + done, len - done);
                    done = 0;
                } else {
                    done -= len;
                }
            }
        } else if (w < 0) {
            for (size_t i = 0; i < k; ++i) {
                write_all(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
            }
        }
        first = (first + k) % _capacity;
        n -= k;
    }
}

void log_queue::write_all(const char* data, size_t len) noexcept {
    while (len != 0) {
        ssize_t w = ::write(_fd, data, len);
        if (w > 0) {
            data += w;
            len -= static_cast<size_t>(w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{_fd, POLLOUT, 0}; // a non-blocking stderr: wait here, on this thread only
            ::poll(&p, 1, -1);
        } else {
            return; // closed or broken output: nothing else to do with the line
        }
    }
}

void log_queue::before_fork() noexcept {
    _mutex.lock();
}

void log_queue::after_fork_parent() noexcept {
    _mutex.unlock();
}

void log_queue::after_fork_child() noexcept {
    // Only the forking thread exists here: the writer and any thread waiting on the
    // condition variables are gone, so these are made anew (their old state describes
    // waiters that no longer exist), and the lines queued are the parent's to write.
    new (&_mutex) std::mutex();
    new (&_wake_writer) std::condition_variable();
    new (&_progress) std::condition_variable();
    _head = 0;
    _count = 0;
    _written = _pushed;
    _unreported = 0;
    _writer_running = false;
    _stop = false;
}

} // namespace ringbolt::core
