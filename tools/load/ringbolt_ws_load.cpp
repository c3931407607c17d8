// Owns: ringbolt-ws-load's entry point — splits connections and -n among threads, runs
// them, merges their counts and histograms, and prints the report (text or --json).
//
// ringbolt-ws-load is a WebSocket echo load generator: closed loop, D messages in flight
// per WebSocket, every echo checked byte for byte; WebSockets on their own TCP
// connections (io_uring, ws_worker) or on streams of HTTP/2 or HTTP/3 connections (epoll,
// ws_mux_worker). See README.md.
#include "histogram.hpp"
#include "latency_report.hpp"
#include "load_run.hpp"
#include "ws_mux_worker.hpp"
#include "ws_options.hpp"
#include "ws_worker.hpp"

#include <csignal>
#include <cstdio>

using namespace ringbolt_load;

namespace {

using ull = unsigned long long;

void print_text(const ws_options& o, const ws_thread_stats& t, double seconds) {
    const histogram& h = t.latency;
    printf("ringbolt-ws-load %s\n", o.url.c_str());
    printf("  %u thread(s), %u connection(s)", o.threads, o.connections);
    if (o.http_version > 1) {
        printf(" of HTTP/%d with %u WebSocket stream(s) each", o.http_version, o.streams);
    }
    printf(", %u in flight each, %llu-byte %s messages, %s %.2f s\n", o.pipeline, static_cast<ull>(o.size),
           o.text ? "text" : "binary", o.messages > 0 ? "ran" : "measured", seconds);
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
    print_latency_text(h);
}

void print_json(const ws_options& o, const ws_thread_stats& t, double seconds) {
    const histogram& h = t.latency;
    const ws_error_counts& e = t.errors;
    printf("{\"url\":\"%s\",\"http_version\":%d,\"threads\":%u,\"connections\":%u,\"streams\":%u,"
           "\"pipeline\":%u,\"size\":%llu,\"opcode\":\"%s\",",
           json_escape(o.url).c_str(), o.http_version, o.threads, o.connections, o.http_version > 1 ? o.streams : 1,
           o.pipeline, static_cast<ull>(o.size), o.text ? "text" : "binary");
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
    print_latency_json(h);
    printf("}\n");
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
    plan.schedule(20'000'000, opts.warmup_s, opts.duration_s, opts.messages > 0);
    stop_on_signals(&plan);

    ws_thread_stats total;
    int64_t stopped_ns = 0;
    auto run_thread = [&plan](uint32_t t, uint32_t first_conn, uint32_t conns, uint64_t share, ws_thread_stats* out) {
        if (plan.opts->http_version > 1) {
            run_ws_mux_worker(plan, t, first_conn, conns, share, out);
        } else {
            run_ws_worker(plan, t, first_conn, conns, share, out);
        }
    };
    if (!run_threads("ringbolt-ws-load", opts.threads, opts.connections, opts.messages, run_thread, &stopped_ns,
                     &total)) {
        return 1;
    }
    double seconds = measured_seconds(plan, stopped_ns, opts.messages > 0, total.last_answer_ns);
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
