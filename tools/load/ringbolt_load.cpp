// Owns: ringbolt-load's entry point — splits connections and -n among threads, runs
// them, merges their counts and histograms, and prints the report (text or --json).
//
// ringbolt-load is an io_uring HTTP/1.1 load generator for plain-HTTP servers on this
// machine. Its constant-rate mode (-R) measures latency from each request's intended
// send time, so a server stall is counted in full instead of being hidden by the
// generator waiting for it (coordinated omission). See README.md beside this file.
#include "histogram.hpp"
#include "options.hpp"
#include "worker.hpp"

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace ringbolt_load;

namespace {

run_plan* g_plan = nullptr;

void on_signal(int) {
    if (g_plan != nullptr) {
        g_plan->stop.store(true); // threads notice within one housekeeping period
    }
}

struct percentile_row {
    const char* label;
    const char* json_key;
    double q;
};

constexpr percentile_row percentile_rows[] = {
    {"p50", "p50", 0.50}, {"p75", "p75", 0.75},      {"p90", "p90", 0.90},
    {"p99", "p99", 0.99}, {"p99.9", "p99_9", 0.999}, {"p99.99", "p99_99", 0.9999},
};

std::string human_bytes(double v) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
    return buf;
}

std::string human_us(double us) {
    char buf[64];
    if (us < 1000) {
        snprintf(buf, sizeof buf, "%.0f us", us);
    } else if (us < 1e6) {
        snprintf(buf, sizeof buf, "%.2f ms", us / 1000);
    } else {
        snprintf(buf, sizeof buf, "%.2f s", us / 1e6);
    }
    return buf;
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (char ch : s) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out;
}

// The distribution in power-of-two rows (a readable view of the log-linear buckets).
struct coarse_row {
    uint64_t lo;
    uint64_t hi;
    uint64_t count;
};

std::vector<coarse_row> coarse_rows(const histogram& h) {
    std::vector<coarse_row> rows;
    for (size_t i = 0; i < histogram::bucket_count; ++i) {
        uint64_t n = h.bucket(i);
        if (n == 0) {
            continue;
        }
        uint64_t lo = histogram::lowest_of(i);
        uint64_t row_lo = lo == 0 ? 0 : uint64_t{1} << (63 - __builtin_clzll(lo));
        if (rows.empty() || rows.back().lo != row_lo) {
            rows.push_back({row_lo, row_lo == 0 ? 0 : row_lo * 2 - 1, 0});
        }
        rows.back().count += n;
    }
    return rows;
}

void print_text(const options& o, const thread_stats& t, double seconds) {
    const histogram& h = t.latency;
    printf("ringbolt-load %s\n", o.url.c_str());
    printf("  %u thread(s), %u connection(s), pipeline %u, %s", o.threads, o.connections, o.pipeline,
           o.rate > 0 ? "constant rate" : "closed loop");
    if (o.rate > 0) {
        printf(" %.0f req/s (latency from intended send time)", o.rate);
    }
    printf(", %s %.2f s", o.requests > 0 ? "ran" : "measured", seconds);
    if (o.warmup_s > 0) {
        printf(" after %.2f s warm-up", o.warmup_s);
    }
    printf("\n");
    printf("  requests      %llu in %.2f s = %.1f req/s\n", static_cast<unsigned long long>(t.responses), seconds,
           seconds > 0 ? t.responses / seconds : 0.0);
    printf("  transfer      %s/s (%s received)\n", human_bytes(seconds > 0 ? t.bytes / seconds : 0).c_str(),
           human_bytes(static_cast<double>(t.bytes)).c_str());
    printf("  errors        connect %llu, read %llu, write %llu, timeout %llu, parse %llu; reconnects %llu\n",
           static_cast<unsigned long long>(t.errors.connect), static_cast<unsigned long long>(t.errors.read),
           static_cast<unsigned long long>(t.errors.write), static_cast<unsigned long long>(t.errors.timeout),
           static_cast<unsigned long long>(t.errors.parse), static_cast<unsigned long long>(t.reconnects));
    if (t.unfinished > 0) {
        printf("  unanswered    %llu measured request(s) in flight or overdue at the end\n",
               static_cast<unsigned long long>(t.unfinished));
    }
    printf("  status       ");
    bool any = false;
    for (size_t s = 0; s < t.status.size(); ++s) {
        if (t.status[s] != 0) {
            printf(" %zu: %llu", s, static_cast<unsigned long long>(t.status[s]));
            any = true;
        }
    }
    printf("%s\n", any ? "" : " (none)");
    if (h.count() == 0) {
        return;
    }
    printf("  latency       min %s, mean %s, stdev %s, max %s\n", human_us(h.min()).c_str(), human_us(h.mean()).c_str(),
           human_us(h.stdev()).c_str(), human_us(h.max()).c_str());
    printf("  percentiles  ");
    for (const percentile_row& r : percentile_rows) {
        printf(" %s %s,", r.label, human_us(h.percentile(r.q)).c_str());
    }
    printf(" max %s\n", human_us(h.max()).c_str());
    printf("  histogram (us)\n");
    std::vector<coarse_row> rows = coarse_rows(h);
    uint64_t peak = 1;
    for (const coarse_row& r : rows) {
        peak = r.count > peak ? r.count : peak;
    }
    for (const coarse_row& r : rows) {
        int bar = static_cast<int>(40.0 * r.count / peak + 0.5);
        printf("    %9llu - %-9llu %10llu  %5.1f%%  %.*s\n", static_cast<unsigned long long>(r.lo),
               static_cast<unsigned long long>(r.hi), static_cast<unsigned long long>(r.count),
               100.0 * r.count / h.count(), bar, "########################################");
    }
}

void print_json(const options& o, const thread_stats& t, double seconds) {
    const histogram& h = t.latency;
    uint64_t non_2xx_3xx = 0;
    for (size_t s = 0; s < t.status.size(); ++s) {
        if (s < 200 || s >= 400) {
            non_2xx_3xx += t.status[s];
        }
    }
    printf("{\"url\":\"%s\",\"threads\":%u,\"connections\":%u,\"pipeline\":%u,", json_escape(o.url).c_str(), o.threads,
           o.connections, o.pipeline);
    printf("\"mode\":\"%s\",\"rate\":", o.rate > 0 ? "constant-rate" : "closed-loop");
    if (o.rate > 0) {
        printf("%.3f,", o.rate);
    } else {
        printf("null,");
    }
    printf("\"warmup_s\":%.3f,\"duration_s\":%.6f,\"requests\":%llu,\"requests_per_s\":%.3f,", o.warmup_s, seconds,
           static_cast<unsigned long long>(t.responses), seconds > 0 ? t.responses / seconds : 0.0);
    printf("\"bytes\":%llu,\"bytes_per_s\":%.3f,", static_cast<unsigned long long>(t.bytes),
           seconds > 0 ? t.bytes / seconds : 0.0);
    printf("\"errors\":{\"connect\":%llu,\"read\":%llu,\"write\":%llu,\"timeout\":%llu,\"parse\":%llu,\"total\":%llu},",
           static_cast<unsigned long long>(t.errors.connect), static_cast<unsigned long long>(t.errors.read),
           static_cast<unsigned long long>(t.errors.write), static_cast<unsigned long long>(t.errors.timeout),
           static_cast<unsigned long long>(t.errors.parse), static_cast<unsigned long long>(t.errors.total()));
    printf("\"reconnects\":%llu,\"unfinished\":%llu,\"non_2xx_3xx\":%llu,\"status\":{",
           static_cast<unsigned long long>(t.reconnects), static_cast<unsigned long long>(t.unfinished),
           static_cast<unsigned long long>(non_2xx_3xx));
    bool first = true;
    for (size_t s = 0; s < t.status.size(); ++s) {
        if (t.status[s] != 0) {
            printf("%s\"%zu\":%llu", first ? "" : ",", s, static_cast<unsigned long long>(t.status[s]));
            first = false;
        }
    }
    printf("},\"latency_us\":{\"count\":%llu,\"min\":%llu,\"mean\":%.3f,\"stdev\":%.3f,",
           static_cast<unsigned long long>(h.count()), static_cast<unsigned long long>(h.min()), h.mean(), h.stdev());
    for (const percentile_row& r : percentile_rows) {
        printf("\"%s\":%llu,", r.json_key, static_cast<unsigned long long>(h.percentile(r.q)));
    }
    printf("\"max\":%llu},", static_cast<unsigned long long>(h.max()));
    // every non-empty bucket: [lowest value, highest value, count], microseconds
    printf("\"histogram_us\":[");
    first = true;
    for (size_t i = 0; i < histogram::bucket_count; ++i) {
        if (h.bucket(i) != 0) {
            printf("%s[%llu,%llu,%llu]", first ? "" : ",", static_cast<unsigned long long>(histogram::lowest_of(i)),
                   static_cast<unsigned long long>(histogram::highest_of(i)),
                   static_cast<unsigned long long>(h.bucket(i)));
            first = false;
        }
    }
    printf("]}\n");
}

} // namespace

int main(int argc, char** argv) {
    options opts;
    bool exit_now = false;
    if (!parse_options(argc, argv, &opts, &exit_now)) {
        return 2;
    }
    if (exit_now) {
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);

    run_plan plan;
    plan.opts = &opts;
    plan.request = build_request(opts);
    // a few ms of head start so every thread has its ring before the schedule begins
    plan.start_ns = monotonic_ns() + 5'000'000;
    plan.measure_ns = plan.start_ns + static_cast<int64_t>(opts.warmup_s * 1e9);
    plan.end_ns = opts.requests > 0 ? INT64_MAX : plan.measure_ns + static_cast<int64_t>(opts.duration_s * 1e9);
    g_plan = &plan;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    std::vector<thread_stats> stats(opts.threads);
    std::vector<std::thread> threads;
    uint32_t next_conn = 0;
    for (uint32_t t = 0; t < opts.threads; ++t) {
        uint32_t conns = opts.connections / opts.threads + (t < opts.connections % opts.threads ? 1 : 0);
        uint64_t share = 0;
        if (opts.requests > 0) {
            share = opts.requests / opts.threads + (t < opts.requests % opts.threads ? 1 : 0);
        }
        if (opts.requests > 0 && share == 0) {
            conns = 0; // fewer requests than threads: this one has nothing to do
        }
        if (conns == 0) {
            continue;
        }
        threads.emplace_back(run_worker, std::ref(plan), t, next_conn, conns, share, &stats[t]);
        next_conn += conns;
    }
    for (std::thread& th : threads) {
        th.join();
    }
    int64_t stopped_ns = monotonic_ns();

    thread_stats total;
    for (const thread_stats& s : stats) {
        if (!s.setup_error.empty()) {
            fprintf(stderr, "ringbolt-load: %s\n", s.setup_error.c_str());
            return 1;
        }
        total.responses += s.responses;
        total.bytes += s.bytes;
        total.reconnects += s.reconnects;
        total.unfinished += s.unfinished;
        total.errors.connect += s.errors.connect;
        total.errors.read += s.errors.read;
        total.errors.write += s.errors.write;
        total.errors.timeout += s.errors.timeout;
        total.errors.parse += s.errors.parse;
        for (size_t i = 0; i < s.status.size(); ++i) {
            total.status[i] += s.status[i];
        }
        total.latency.merge(s.latency);
        total.last_response_ns = std::max(total.last_response_ns, s.last_response_ns);
        total.cannot_connect = total.cannot_connect || s.cannot_connect;
    }
    // -n or an interrupted run: the time until the last response (or the stop);
    // a full duration run: the nominal window, which is when counting stopped
    int64_t end = plan.end_ns;
    if (opts.requests > 0 || stopped_ns < plan.end_ns) {
        end = opts.requests > 0 && total.last_response_ns > 0 ? total.last_response_ns
                                                              : std::min(stopped_ns, plan.end_ns);
    }
    double seconds = end > plan.measure_ns ? (end - plan.measure_ns) / 1e9 : 0.0;
    if (opts.json) {
        print_json(opts, total, seconds);
    } else {
        print_text(opts, total, seconds);
    }
    if (total.cannot_connect && total.responses == 0) {
        fprintf(stderr, "ringbolt-load: cannot connect to %s\n", opts.url.c_str());
        return 1;
    }
    return 0;
}
