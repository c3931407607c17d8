// Owns: one run of a load generator across its threads — the time window and stop flag
// every thread shares, the split of connections and of -n among threads, running them,
// merging what they hand back, and the measured time the report divides by.
#pragma once

#include "histogram.hpp"
#include "load_clock.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace ringbolt_load {

// When load begins and is measured, shared read-only by all threads, plus the stop flag.
struct run_window {
    int64_t start_ns = 0;   // CLOCK_MONOTONIC: load (and a rate schedule) begins
    int64_t measure_ns = 0; // start + warm-up: what is sent from here is measured
    int64_t end_ns = 0;     // duration mode: measurement ends (INT64_MAX with -n)
    std::atomic<bool> stop{false};

    // head_start_ns lets every thread set up its ring (and connections) before the
    // common start; with -n (counted) the run has no end time.
    void schedule(int64_t head_start_ns, double warmup_s, double duration_s, bool counted) {
        start_ns = monotonic_ns() + head_start_ns;
        measure_ns = start_ns + static_cast<int64_t>(warmup_s * 1e9);
        end_ns = counted ? INT64_MAX : measure_ns + static_cast<int64_t>(duration_s * 1e9);
    }
};

// The failures every load connection can have; each protocol's error counts add their own.
struct io_errors {
    uint64_t connect = 0; // connect failed or timed out
    uint64_t read = 0;    // reset, EOF or a close while answers were outstanding
    uint64_t write = 0;
    uint64_t timeout = 0; // an answer later than --timeout
    uint64_t total() const noexcept { return connect + read + write + timeout; }

    void merge(const io_errors& o) {
        connect += o.connect;
        read += o.read;
        write += o.write;
        timeout += o.timeout;
    }
};

// What every load thread hands back besides its protocol's own counts, and their merge.
struct run_counts {
    uint64_t bytes = 0;      // bytes received inside the measured window
    uint64_t reconnects = 0; // connections re-opened after a close (server's or ours)
    uint64_t unfinished = 0; // measured requests (messages) due but without an answer at the end
    histogram latency;       // microseconds, sent to the answer's last byte
    int64_t last_answer_ns = 0;
    bool cannot_connect = false;
    std::string first_error; // the first failure (a connection, a handshake), for the report
    std::string setup_error; // the thread could not start (run_threads prints it)

    void merge(const run_counts& s) {
        bytes += s.bytes;
        reconnects += s.reconnects;
        unfinished += s.unfinished;
        latency.merge(s.latency);
        last_answer_ns = std::max(last_answer_ns, s.last_answer_ns);
        cannot_connect = cannot_connect || s.cannot_connect;
        if (first_error.empty()) {
            first_error = s.first_error;
        }
    }
};

inline run_window* signalled_window = nullptr;

// SIGINT and SIGTERM set window's stop flag; threads notice within one housekeeping
// period and the report covers what was measured until then.
inline void stop_on_signals(run_window* window) {
    signalled_window = window;
    struct sigaction sa {};
    sa.sa_handler = [](int) {
        if (signalled_window != nullptr) {
            signalled_window->stop.store(true);
        }
    };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

// Runs `threads` threads over `connections` connections and `count` measured
// requests/messages (0: a duration run), each as
//   run_thread(thread_index, first_conn, conn_count, count_share, Stats* out),
// notes in *stopped_ns when the last one ended, and merges their Stats into *total
// (Stats::merge). On a thread's set-up error prints it prefixed with `tool` and
// returns false.
template <class Stats, class RunThread>
bool run_threads(const char* tool, uint32_t threads, uint32_t connections, uint64_t count, RunThread run_thread,
                 int64_t* stopped_ns, Stats* total) {
    std::vector<Stats> stats(threads);
    std::vector<std::thread> running;
    uint32_t next_conn = 0;
    for (uint32_t t = 0; t < threads; ++t) {
        uint32_t conns = connections / threads + (t < connections % threads ? 1 : 0);
        uint64_t share = 0;
        if (count > 0) {
            share = count / threads + (t < count % threads ? 1 : 0);
            if (share == 0) {
                conns = 0; // fewer requests than threads: this one has nothing to do
            }
        }
        if (conns == 0) {
            continue;
        }
        running.emplace_back(run_thread, t, next_conn, conns, share, &stats[t]);
        next_conn += conns;
    }
    for (std::thread& th : running) {
        th.join();
    }
    *stopped_ns = monotonic_ns();
    for (const Stats& s : stats) {
        if (!s.setup_error.empty()) {
            fprintf(stderr, "%s: %s\n", tool, s.setup_error.c_str());
            return false;
        }
    }
    for (const Stats& s : stats) {
        total->merge(s);
    }
    return true;
}

// The measured time: with -n (counted) or an interrupted run, until the last measured
// answer (or the stop); a full duration run, the nominal window, which is when
// counting stopped.
inline double measured_seconds(const run_window& w, int64_t stopped_ns, bool counted, int64_t last_answer_ns) {
    int64_t end = w.end_ns;
    if (counted || stopped_ns < w.end_ns) {
        end = counted && last_answer_ns > 0 ? last_answer_ns : std::min(stopped_ns, w.end_ns);
    }
    return end > w.measure_ns ? (end - w.measure_ns) / 1e9 : 0.0;
}

} // namespace ringbolt_load
