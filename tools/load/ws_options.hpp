// Owns: ringbolt-ws-load's command line — the option set, ws:// URL parsing and the
// target address (resolved once, with the helpers shared with ringbolt-load).
#pragma once

#include "options.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt_load {

struct ws_options {
    uint32_t connections = 10;
    uint32_t threads = 1;
    double duration_s = 10.0; // used unless messages > 0
    uint64_t messages = 0;    // -n: stop after this many measured echoes
    uint32_t pipeline = 1;    // messages in flight per connection
    uint64_t size = 32;       // payload bytes per message
    bool text = false;        // text frames (ASCII payload) instead of binary
    double warmup_s = 0.0;
    uint32_t timeout_ms = 2000;
    bool json = false;
    std::vector<int> cpus;
    std::string url;
    load_target target; // from the URL
};

// Parses argv into opts; on a usage error prints why and returns false. Sets
// *exit_now for --help.
bool parse_ws_options(int argc, char** argv, ws_options* opts, bool* exit_now);

} // namespace ringbolt_load
