// log_queue over a pipe: order kept per producer thread, a full queue drops and counts
// (and the writer reports the count after the lines queued before the drops), flush
// waits for the write, long lines are cut. Runs under `make tsan` with real threads.
#include "core/log_queue.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ringbolt {
namespace {

// A pipe whose read end is drained into a string by a thread (once started).
class pipe_sink {
  public:
    pipe_sink() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        _r = fds[0];
        _w = fds[1];
    }
    ~pipe_sink() {
        close_write_end();
        join();
        if (_r >= 0) {
            ::close(_r);
        }
    }
    int write_end() const { return _w; }

    /// Shrink the pipe to one page and fill it: any further write blocks.
    size_t fill() {
        EXPECT_GT(fcntl(_w, F_SETPIPE_SZ, 4096), 0);
        int flags = fcntl(_w, F_GETFL);
        fcntl(_w, F_SETFL, flags | O_NONBLOCK);
        size_t filled = 0;
        std::string chunk(4096, 'x');
        for (size_t size : {size_t{4096}, size_t{1}}) {
            ssize_t n;
            while ((n = ::write(_w, chunk.data(), size)) > 0) {
                filled += static_cast<size_t>(n);
            }
        }
        fcntl(_w, F_SETFL, flags); // the queue's writes block, as on a real stderr
        return filled;
    }

    /// What the pipe holds right now (a read that does not wait).
    std::string read_now() {
        std::string out;
        char buf[65536];
        ssize_t n;
        while ((n = recv_or_read(buf, sizeof(buf))) > 0) {
            out.append(buf, static_cast<size_t>(n));
        }
        return out;
    }

    void start_draining() {
        _reader = std::thread([this] {
            char buf[65536];
            ssize_t n;
            while ((n = ::read(_r, buf, sizeof(buf))) > 0) {
                _data.append(buf, static_cast<size_t>(n));
            }
        });
    }
    void close_write_end() {
        if (_w >= 0) {
            ::close(_w);
            _w = -1;
        }
    }
    /// Everything written, once the write end is closed and the queue is gone.
    const std::string& finish() {
        close_write_end();
        join();
        return _data;
    }

  private:
    ssize_t recv_or_read(char* buf, size_t len) {
        int flags = fcntl(_r, F_GETFL);
        fcntl(_r, F_SETFL, flags | O_NONBLOCK);
        ssize_t n = ::read(_r, buf, len);
        fcntl(_r, F_SETFL, flags);
        return n;
    }
    void join() {
        if (_reader.joinable()) {
            _reader.join();
        }
    }
    int _r = -1;
    int _w = -1;
    std::thread _reader;
    std::string _data;
};

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> lines;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

TEST(LogQueue, OrderKeptPerThreadAndEveryLineWrittenOrCounted) {
    constexpr int threads = 4;
    constexpr int per_thread = 2000;
    pipe_sink sink;
    sink.start_draining();
    uint64_t dropped;
    {
        core::log_queue q(sink.write_end(), 256);
        std::vector<std::thread> producers;
        for (int t = 0; t < threads; ++t) {
            producers.emplace_back([&q, t] {
                for (int i = 0; i < per_thread; ++i) {
                    q.push("t" + std::to_string(t) + " " + std::to_string(i));
                }
            });
        }
        for (auto& p : producers) {
            p.join();
        }
        EXPECT_TRUE(q.flush(10000));
        dropped = q.dropped();
    } // the destructor stops the writer
    std::map<int, int> last;
    uint64_t written = 0;
    uint64_t reported = 0;
    for (const std::string& line : split_lines(sink.finish())) {
        unsigned long long n = 0;
        if (std::sscanf(line.c_str(), "[ringbolt] WARNING: %llu log line(s) dropped", &n) == 1) {
            reported += n;
            continue;
        }
        int t = -1;
        int i = -1;
        ASSERT_EQ(std::sscanf(line.c_str(), "t%d %d", &t, &i), 2) << line;
        auto it = last.find(t);
        EXPECT_TRUE(it == last.end() || it->second < i) << "thread " << t << " line " << i << " out of order";
        last[t] = i;
        ++written;
    }
    EXPECT_EQ(written + dropped, static_cast<uint64_t>(threads * per_thread));
    EXPECT_EQ(reported, dropped);
}

TEST(LogQueue, FullQueueDropsCountsAndReportsOnceWritingResumes) {
    pipe_sink sink;
    size_t prefill = sink.fill();
    core::log_queue q(sink.write_end(), 8);
    // The writer blocks on the full pipe holding what it took: the 8 slots stay taken.
    std::vector<bool> accepted;
    for (int i = 0; i < 20; ++i) {
        accepted.push_back(q.push("line " + std::to_string(i)));
    }
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(accepted[static_cast<size_t>(i)], i < 8) << "line " << i;
    }
    EXPECT_EQ(q.dropped(), 12u);
    EXPECT_FALSE(q.flush(50)) << "nothing can be written while the pipe is full";

    sink.start_draining();
    EXPECT_TRUE(q.flush(10000));
    EXPECT_TRUE(q.push("after"));
    EXPECT_TRUE(q.flush(10000));
    EXPECT_EQ(q.dropped(), 12u);
    // The 8 lines, then the drop report, then "after". The report is one line when the
    // writer's first batch was taken before the drops; when its thread started late (a
    // TSan build) it took the full queue mid-way through the drops, and reports those
    // after the batch and the rest on its next round: every drop is reported once, after
    // the lines queued before it.
    std::vector<std::string> got = split_lines(sink.finish().substr(prefill));
    ASSERT_GE(got.size(), 10u) << ::testing::PrintToString(got);
    for (size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(got[i], "line " + std::to_string(i));
    }
    EXPECT_EQ(got.back(), "after");
    uint64_t reported = 0;
    for (size_t i = 8; i + 1 < got.size(); ++i) {
        unsigned long long n = 0;
        char tail[64] = {};
        ASSERT_EQ(std::sscanf(got[i].c_str(), "[ringbolt] WARNING: %llu log line(s) dropped: %63[^\n]", &n, tail), 2)
            << got[i];
        EXPECT_STREQ(tail, "the log output did not keep up");
        reported += n;
    }
    EXPECT_EQ(reported, 12u) << ::testing::PrintToString(got);
}

TEST(LogQueue, FlushWaitsUntilWrittenAndLongLinesAreCut) {
    pipe_sink sink;
    core::log_queue q(sink.write_end(), 16);
    EXPECT_TRUE(q.flush(0)) << "nothing queued";
    EXPECT_TRUE(q.push("one"));
    EXPECT_TRUE(q.push("two\n")); // an explicit newline is not doubled
    EXPECT_TRUE(q.push(std::string(3000, 'a')));
    EXPECT_TRUE(q.flush(10000));
    // Flushed means in the pipe already: a read that does not wait finds all of it.
    std::string want = "one\ntwo\n" + std::string(core::log_queue::line_max - 1, 'a') + "\n";
    EXPECT_EQ(sink.read_now(), want);
}

} // namespace
} // namespace ringbolt
