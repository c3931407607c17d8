// Owns: ringbolt-ws-load's entry point — splits connections and -n among threads, runs
// them, merges their counts and histograms, and prints the report (text or --json).
//
// ringbolt-ws-load is an io_uring WebSocket echo load generator: closed loop, D
// messages in flight per connection, every echo checked byte for byte. See README.md.
#include "histogram.hpp"
#include "ws_options.hpp"
#include "ws_worker.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace ringbolt_load;

namespace {

ws_run_plan* g_plan = nullptr;

void on_signal(int) {
    if (g_plan != nullptr) {
        g_plan->stop.store(true);
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
        auto c = static_cast<unsigned char>(ch);
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

using ull = unsigned long long;

void print_text(const ws_options& o, const ws_thread_stats& t, double seconds) {
    const histogram& h = t.latency;
    printf("ringbolt-ws-load %s\n", o.url.c_str());
    printf("  %u thread(s), %u connection(s), %u in flight each, %llu-byte %s messages, %s %.2f s\n", o.threads,
           o.connections, o.pipeline, static_cast<ull>(o.size), o.text ? "text" : "binary",
           o.messages > 0 ? "ran" : "measured", seconds);
    printf("  echoes        %llu in %.2f s = %.1f msg/s (each checked byte for byte)\n", static_cast<ull>(t.messages),
           seconds, seconds > 0 ? t.messages / seconds : 0.0);
    printf("  received      %.2f MiB/s\n", seconds > 0 ? t.bytes / seconds / 1048576.0 : 0.0);
    const ws_error_counts& e = t.errors;
    printf("  errors        connect %llu, handshake %llu, read %llu, write %llu, timeout %llu, protocol %llu, "
           "mismatch %llu\n",
           static_cast<ull>(e.connect), static_cast<ull>(e.handshake), static_cast<ull>(e.read),
           static_cast<ull>(e.write), static_cast<ull>(e.timeout), static_cast<ull>(e.protocol),
           static_cast<ull>(e.mismatch));
    printf("  connections   %llu handshakes, %llu reconnects, %llu server closes, %llu pings answered\n",
           static_cast<ull>(t.handshakes), static_cast<ull>(t.reconnects), static_cast<ull>(t.server_closes),
           static_cast<ull>(t.pings));
    if (!t.first_error.empty()) {
        printf("  first error   %s\n", t.first_error.c_str());
    }
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
}

void print_json(const ws_options& o, const ws_thread_stats& t, double seconds) {
    const histogram& h = t.latency;
    const ws_error_counts& e = t.errors;
    printf("{\"url\":\"%s\",\"threads\":%u,\"connections\":%u,\"pipeline\":%u,\"size\":%llu,\"opcode\":\"%s\",",
           json_escape(o.url).c_str(), o.threads, o.connections, o.pipeline, static_cast<ull>(o.size),
           o.text ? "text" : "binary");
    printf("\"warmup_s\":%.3f,\"duration_s\":%.6f,\"messages\":%llu,\"messages_per_s\":%.3f,\"bytes\":%llu,",
           o.warmup_s, seconds, static_cast<ull>(t.messages), seconds > 0 ? t.messages / seconds : 0.0,
           static_cast<ull>(t.bytes));
    printf("\"errors\":{\"connect\":%llu,\"handshake\":%llu,\"read\":%llu,\"write\":%llu,\"timeout\":%llu,"
           "\"protocol\":%llu,\"mismatch\":%llu,\"total\":%llu},",
           static_cast<ull>(e.connect), static_cast<ull>(e.handshake), static_cast<ull>(e.read),
           static_cast<ull>(e.write), static_cast<ull>(e.timeout), static_cast<ull>(e.protocol),
           static_cast<ull>(e.mismatch), static_cast<ull>(e.total()));
    printf("\"first_error\":\"%s\",\"handshakes\":%llu,\"reconnects\":%llu,\"server_closes\":%llu,\"pings\":%llu,"
           "\"unfinished\":%llu,",
           json_escape(t.first_error).c_str(), static_cast<ull>(t.handshakes), static_cast<ull>(t.reconnects),
           static_cast<ull>(t.server_closes), static_cast<ull>(t.pings), static_cast<ull>(t.unfinished));
    printf("\"latency_us\":{\"count\":%llu,\"min\":%llu,\"mean\":%.3f,\"stdev\":%.3f,", static_cast<ull>(h.count()),
           static_cast<ull>(h.min()), h.mean(), h.stdev());
    for (const percentile_row& r : percentile_rows) {
        printf("\"%s\":%llu,", r.json_key, static_cast<ull>(h.percentile(r.q)));
    }
    printf("\"max\":%llu}}\n", static_cast<ull>(h.max()));
}

} // namespace

int main(int argc, char** argv) {
    ws_options opts;
    bool exit_now = false;
    if (!parse_ws_options(argc, argv, &opts, &exit_now)) {
        return 2;
    }
    if (exit_now) {
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);

    ws_run_plan plan;
    plan.opts = &opts;
    // connections open and handshake before the common start; a few ms of head start
    // is enough on loopback, more is given with --warmup
    plan.start_ns = monotonic_ns() + 20'000'000;
    plan.measure_ns = plan.start_ns + static_cast<int64_t>(opts.warmup_s * 1e9);
    plan.end_ns = opts.messages > 0 ? INT64_MAX : plan.measure_ns + static_cast<int64_t>(opts.duration_s * 1e9);
    g_plan = &plan;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    std::vector<ws_thread_stats> stats(opts.threads);
    std::vector<std::thread> threads;
    uint32_t next_conn = 0;
    for (uint32_t t = 0; t < opts.threads; ++t) {
        uint32_t conns = opts.connections / opts.threads + (t < opts.connections % opts.threads ? 1 : 0);
        uint64_t share = 0;
        if (opts.messages > 0) {
            share = opts.messages / opts.threads + (t < opts.messages % opts.threads ? 1 : 0);
            if (share == 0) {
                conns = 0;
            }
        }
        if (conns == 0) {
            continue;
        }
        threads.emplace_back(run_ws_worker, std::ref(plan), t, next_conn, conns, share, &stats[t]);
        next_conn += conns;
    }
    for (std::thread& th : threads) {
        th.join();
    }
    int64_t stopped_ns = monotonic_ns();

    ws_thread_stats total;
    for (const ws_thread_stats& s : stats) {
        if (!s.setup_error.empty()) {
            fprintf(stderr, "ringbolt-ws-load: %s\n", s.setup_error.c_str());
            return 1;
        }
        total.messages += s.messages;
        total.bytes += s.bytes;
        total.handshakes += s.handshakes;
        total.reconnects += s.reconnects;
        total.unfinished += s.unfinished;
        total.pings += s.pings;
        total.server_closes += s.server_closes;
        total.errors.connect += s.errors.connect;
        total.errors.handshake += s.errors.handshake;
        total.errors.read += s.errors.read;
        total.errors.write += s.errors.write;
        total.errors.timeout += s.errors.timeout;
        total.errors.protocol += s.errors.protocol;
        total.errors.mismatch += s.errors.mismatch;
        total.latency.merge(s.latency);
        total.last_message_ns = std::max(total.last_message_ns, s.last_message_ns);
        total.cannot_connect = total.cannot_connect || s.cannot_connect;
        if (total.first_error.empty()) {
            total.first_error = s.first_error;
        }
    }
    int64_t end = plan.end_ns;
    if (opts.messages > 0 || stopped_ns < plan.end_ns) {
        end =
            opts.messages > 0 && total.last_message_ns > 0 ? total.last_message_ns : std::min(stopped_ns, plan.end_ns);
    }
    double seconds = end > plan.measure_ns ? (end - plan.measure_ns) / 1e9 : 0.0;
    if (opts.json) {
        print_json(opts, total, seconds);
    } else {
        print_text(opts, total, seconds);
    }
    if (total.cannot_connect && total.messages == 0) {
        fprintf(stderr, "ringbolt-ws-load: cannot open a WebSocket to %s%s%s\n", opts.url.c_str(),
                total.first_error.empty() ? "" : ": ", total.first_error.c_str());
        return 1;
    }
    return 0;
}
