// Owns: the HTTP load report both HTTP tools print (see http_report.hpp), text or JSON.
#include "http_report.hpp"

#include "latency_report.hpp"

#include <cstdio>
#include <vector>

namespace ringbolt_load {

namespace {

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

} // namespace

void print_http_text(const http_report_info& o, const thread_stats& t, double seconds) {
    const histogram& h = t.latency;
    printf("%s %s\n", o.tool, o.url.c_str());
    printf("  %u thread(s), %u connection(s), %s %u, %s", o.threads, o.connections, o.depth_word, o.pipeline,
           o.rate > 0 ? "constant rate" : "closed loop");
    if (o.rate > 0) {
        printf(" %.0f req/s (latency from intended send time)", o.rate);
    }
    printf(", %s %.2f s", o.counted ? "ran" : "measured", seconds);
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
    if (!t.first_error.empty()) {
        printf("  first error   %s\n", t.first_error.c_str());
    }
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
    print_latency_text(h);
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

void print_http_json(const http_report_info& o, const thread_stats& t, double seconds) {
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
    if (!t.first_error.empty()) {
        printf("\"first_error\":\"%s\",", json_escape(t.first_error).c_str());
    }
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
    printf("},");
    print_latency_json(h);
    // every non-empty bucket: [lowest value, highest value, count], microseconds
    printf(",\"histogram_us\":[");
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

} // namespace ringbolt_load
