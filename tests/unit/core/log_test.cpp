// The process-wide native log: a full stderr pipe does not block the caller (lines are
// dropped and counted, log_dropped() says how many), and after fork() the child logs
// through a writer of its own without repeating the parent's queued lines.
#include "core/log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define RINGBOLT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RINGBOLT_TSAN 1
#endif
#endif

namespace ringbolt {
namespace {

// fd 2 points at a pipe for the life of the object; the pipe's content is read back.
class stderr_pipe {
  public:
    stderr_pipe() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        _r = fds[0];
        _saved = ::dup(2);
        ::dup2(fds[1], 2);
        ::close(fds[1]);
    }
    ~stderr_pipe() {
        restore();
        ::close(_r);
    }
    /// Make the pipe one page and fill it (through a non-blocking description of its
    /// own, so fd 2 stays blocking like a real stderr).
    void fill() {
        EXPECT_GT(fcntl(2, F_SETPIPE_SZ, 4096), 0);
        int fd = ::open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        std::string chunk(4096, 'x');
        for (size_t size : {size_t{4096}, size_t{1}}) {
            while (::write(fd, chunk.data(), size) > 0) {
            }
        }
        ::close(fd);
    }
    /// Read what is there now (without waiting).
    std::string take() {
        std::string out;
        int flags = fcntl(_r, F_GETFL);
        fcntl(_r, F_SETFL, flags | O_NONBLOCK);
        char buf[65536];
        ssize_t n;
        while ((n = ::read(_r, buf, sizeof(buf))) > 0) {
            out.append(buf, static_cast<size_t>(n));
        }
        fcntl(_r, F_SETFL, flags);
        return out;
    }
    void restore() {
        if (_saved >= 0) {
            ::dup2(_saved, 2);
            ::close(_saved);
            _saved = -1;
        }
    }

  private:
    int _r = -1;
    int _saved = -1;
};

size_t count(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

TEST(Log, FullStderrDoesNotBlockTheCaller) {
    stderr_pipe err;
    err.fill();
    uint64_t dropped_before = core::log_dropped();
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3000; ++i) {
        core::log(core::log_level::warning, "line %d while stderr is full", i);
    }
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::seconds(2)) << "log() waited for stderr";
    EXPECT_GE(core::log_dropped() - dropped_before, 3000u - 1024u) << "1024 slots: the rest is dropped and counted";
    std::string out;
    for (int i = 0; i < 1000 && out.find("log line(s) dropped") == std::string::npos; ++i) {
        out += err.take(); // drain while the writer catches up
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(core::log_flush(5000));
    out += err.take();
    err.restore();
    EXPECT_EQ(count(out, "while stderr is full"), 3000 - (core::log_dropped() - dropped_before));
    EXPECT_NE(out.find("[ringbolt] WARNING: line 0 while stderr is full\n"), std::string::npos);
    EXPECT_NE(out.find("log line(s) dropped"), std::string::npos);
}

TEST(Log, ForkedChildLogsWithItsOwnWriter) {
#ifdef RINGBOLT_TSAN
    GTEST_SKIP() << "TSan does not support threads started in a child of a multi-threaded fork";
#else
    stderr_pipe err;
    core::log(core::log_level::warning, "parent before fork"); // the parent's writer exists now
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        log(core::log_level::warning, "child after fork");
        ::_exit(core::log_flush(5000) ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's log_flush failed";
    log(core::log_level::warning, "parent after fork");
    EXPECT_TRUE(core::log_flush(5000));
    std::string out = err.take();
    err.restore();
    EXPECT_EQ(count(out, "parent before fork"), 1u) << out;
    EXPECT_EQ(count(out, "child after fork"), 1u) << out;
    EXPECT_EQ(count(out, "parent after fork"), 1u) << out;
#endif
}

} // namespace
} // namespace ringbolt
