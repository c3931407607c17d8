// Owns: ringbolt-load's entry point — splits connections and -n among threads, runs
// them, merges their counts and histograms, and prints the report (text or --json).
//
// ringbolt-load is an io_uring HTTP/1.1 load generator for plain-HTTP servers on this
// machine. Its constant-rate mode (-R) measures latency from each request's intended
// send time, so a server stall is counted in full instead of being hidden by the
// generator waiting for it (coordinated omission). See README.md beside this file.
#include "http_report.hpp"
#include "load_run.hpp"
#include "options.hpp"
#include "worker.hpp"

#include <csignal>
#include <cstdio>

using namespace ringbolt_load;

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
    plan.schedule(5'000'000, opts.warmup_s, opts.duration_s, opts.requests > 0);
    stop_on_signals(&plan);

    thread_stats total;
    int64_t stopped_ns = 0;
    auto run_thread = [&plan](uint32_t t, uint32_t first_conn, uint32_t conns, uint64_t share, thread_stats* out) {
        run_worker(plan, t, first_conn, conns, share, out);
    };
    if (!run_threads("ringbolt-load", opts.threads, opts.connections, opts.requests, run_thread, &stopped_ns, &total)) {
        return 1;
    }
    double seconds = measured_seconds(plan, stopped_ns, opts.requests > 0, total.last_answer_ns);
    http_report_info info{"ringbolt-load", opts.url,  opts.threads,  opts.connections, opts.pipeline,
                          "pipeline",      opts.rate, opts.warmup_s, opts.requests > 0};
    if (opts.json) {
        print_http_json(info, total, seconds);
    } else {
        print_http_text(info, total, seconds);
    }
    if (total.cannot_connect && total.responses == 0) {
        fprintf(stderr, "ringbolt-load: cannot connect to %s\n", opts.url.c_str());
        return 1;
    }
    return 0;
}
