// Owns: the latency summary and formatting shared by both reports (see latency_report.hpp).
#include "latency_report.hpp"

#include <cstdio>

namespace ringbolt_load {

namespace {

struct percentile_row {
    const char* label;
    const char* json_key;
    double q;
};

constexpr percentile_row percentile_rows[] = {
    {"p50", "p50", 0.50}, {"p75", "p75", 0.75},      {"p90", "p90", 0.90},
    {"p99", "p99", 0.99}, {"p99.9", "p99_9", 0.999}, {"p99.99", "p99_99", 0.9999},
};

using ull = unsigned long long;

} // namespace

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

void print_latency_text(const histogram& h) {
    printf("  latency       min %s, mean %s, stdev %s, max %s\n", human_us(h.min()).c_str(), human_us(h.mean()).c_str(),
           human_us(h.stdev()).c_str(), human_us(h.max()).c_str());
    printf("  percentiles  ");
    for (const percentile_row& r : percentile_rows) {
        printf(" %s %s,", r.label, human_us(h.percentile(r.q)).c_str());
    }
    printf(" max %s\n", human_us(h.max()).c_str());
}

void print_latency_json(const histogram& h) {
    printf("\"latency_us\":{\"count\":%llu,\"min\":%llu,\"mean\":%.3f,\"stdev\":%.3f,", static_cast<ull>(h.count()),
           static_cast<ull>(h.min()), h.mean(), h.stdev());
    for (const percentile_row& r : percentile_rows) {
        printf("\"%s\":%llu,", r.json_key, static_cast<ull>(h.percentile(r.q)));
    }
    printf("\"max\":%llu}", static_cast<ull>(h.max()));
}

} // namespace ringbolt_load
