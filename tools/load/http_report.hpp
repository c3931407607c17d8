// Owns: the report of an HTTP load run, as text or one JSON object, the same for
// ringbolt-load (HTTP/1.1) and ringbolt-h3-load (HTTP/3) so benchmark scripts read either.
#pragma once

#include "http_stats.hpp"

#include <cstdint>
#include <string>

namespace ringbolt_load {

// What the report says about the run besides its counts.
struct http_report_info {
    const char* tool; // first word of the text report
    std::string url;
    uint32_t threads = 1;
    uint32_t connections = 1;
    uint32_t pipeline = 1;  // requests in flight per connection (JSON "pipeline")
    const char* depth_word; // how the text report names it: "pipeline", "streams"
    double rate = 0.0;      // constant-rate mode's req/s; 0: closed loop
    double warmup_s = 0.0;
    bool counted = false; // -n: the run's time is until the last response
};

void print_http_text(const http_report_info& info, const thread_stats& t, double seconds);
void print_http_json(const http_report_info& info, const thread_stats& t, double seconds);

} // namespace ringbolt_load
