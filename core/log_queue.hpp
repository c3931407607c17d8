// A bounded queue of log lines and the one thread that writes them out, so that a
// thread that logs (a reactor) never waits for the output: a line is copied into a
// fixed-size slot under a short lock, or dropped and counted when every slot is taken.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <string_view>

namespace ringbolt::core {

class log_queue {
  public:
    static constexpr size_t line_max = 1024; ///< bytes per slot, newline included

    /// Lines go to `fd` (not owned). The writer thread starts with the first push, in
    /// each process (see after_fork_child).
    log_queue(int fd, size_t slots);
    /// Writes what is queued (waits for the output to take it), then stops the writer.
    ~log_queue();
    log_queue(const log_queue&) = delete;
    log_queue& operator=(const log_queue&) = delete;

    /// Queue one line; a newline is added when missing, a longer line is cut to fit.
    /// Never waits for I/O. False when every slot is taken: the line is dropped and
    /// counted, and the writer reports "N log line(s) dropped" once it can write again.
    bool push(std::string_view line) noexcept;
    /// Wait up to `timeout_ms` until every line queued before the call is written.
    /// True when they are.
    bool flush(int timeout_ms) noexcept;
    /// Lines dropped since the queue was made.
    uint64_t dropped() const noexcept { return _dropped.load(std::memory_order_relaxed); }

    // fork(): pthread_atfork handlers of whoever owns the queue call these. The child
    // has no writer thread and must not write the lines the parent will write.
    void before_fork() noexcept;       ///< takes the lock: no line is half-copied at the fork
    void after_fork_parent() noexcept; ///< releases it
    void after_fork_child() noexcept;  ///< fresh lock and condition variables, empty queue

  private:
    struct slot {
        uint16_t len;
        char text[line_max];
    };

    static void* writer_main(void* self) noexcept;
    void write_loop() noexcept;
    /// Blocking write of all of [data, data+len) or give up on a hard error.
    void write_all(const char* data, size_t len) noexcept;
    void write_slots(size_t first, size_t n) noexcept;
    bool start_writer() noexcept;

    int _fd;
    size_t _capacity;
    std::unique_ptr<slot[]> _slots;

    std::mutex _mutex;
    std::condition_variable _wake_writer; ///< lines queued, or stop
    std::condition_variable _progress;    ///< lines written (flush waits on it)
    // All below guarded by _mutex. Slots [_head, _head + _count) (mod capacity) are
    // queued; the writer reads them without the lock, producers only fill the others.
    size_t _head = 0;
    size_t _count = 0;
    uint64_t _pushed = 0;     ///< lines ever queued
    uint64_t _written = 0;    ///< lines ever handed to write()
    uint64_t _unreported = 0; ///< dropped since the writer last reported
    bool _stop = false;
    bool _writer_running = false; ///< false: not started yet in this process (or could not be)
    pthread_t _writer{};

    std::atomic<uint64_t> _dropped{0};
};

} // namespace ringbolt::core
