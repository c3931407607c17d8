// Owns: ringbolt-h3-load's entry point — splits connections and -n among threads, runs
// them, merges their counts and histograms, and prints ringbolt-load's report.
//
// ringbolt-h3-load is an HTTP/3 load generator: closed loop, N request streams in flight
// on each QUIC connection, on ngtcp2 + GnuTLS + nghttp3 (the libraries ringbolt's server
// uses). See README.md beside this file.
#include "h3_options.hpp"
#include "h3_worker.hpp"
#include "http_report.hpp"
#include "load_run.hpp"

#include <csignal>
#include <cstdio>

using namespace ringbolt_load;

int main(int argc, char** argv) {
    h3_options opts;
    bool exit_now = false;
    if (!parse_h3_options(argc, argv, &opts, &exit_now)) {
        return 2;
    }
    if (exit_now) {
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);

    h3_plan plan;
    plan.opts = &opts;
    plan.request = h3_request::build(opts.method, opts.target, opts.headers, opts.body, opts.has_body);
    plan.request.paths = opts.paths; // -i
    // handshakes (two round trips and a TLS key exchange each) before the common start
    plan.schedule(50'000'000, opts.warmup_s, opts.duration_s, opts.requests > 0);
    stop_on_signals(&plan);

    thread_stats total;
    int64_t stopped_ns = 0;
    auto run_thread = [&plan](uint32_t t, uint32_t first_conn, uint32_t conns, uint64_t share, thread_stats* out) {
        run_h3_worker(plan, t, first_conn, conns, share, out);
    };
    if (!run_threads("ringbolt-h3-load", opts.threads, opts.connections, opts.requests, run_thread, &stopped_ns,
                     &total)) {
        return 1;
    }
    double seconds = measured_seconds(plan, stopped_ns, opts.requests > 0, total.last_answer_ns);
    http_report_info info{"ringbolt-h3-load", opts.url,  opts.threads,  opts.connections, opts.pipeline,
                          "streams",          opts.rate, opts.warmup_s, opts.requests > 0};
    if (opts.json) {
        print_http_json(info, total, seconds);
    } else {
        print_http_text(info, total, seconds);
    }
    if (total.cannot_connect && total.responses == 0) {
        fprintf(stderr, "ringbolt-h3-load: cannot open an HTTP/3 connection to %s%s%s\n", opts.url.c_str(),
                total.first_error.empty() ? "" : ": ", total.first_error.c_str());
        return 1;
    }
    return 0;
}
