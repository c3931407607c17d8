// Owns: ringbolt-ws-load's command line — the WebSocket options on top of the shared
// ones (command_line.hpp): message count, size and type.
#pragma once

#include "command_line.hpp"

#include <cstdint>

namespace ringbolt_load {

struct ws_options : common_options {
    uint64_t messages = 0; // -n: stop after this many measured echoes
    uint64_t size = 32;    // payload bytes per message
    bool text = false;     // text frames (ASCII payload) instead of binary
    // 1: one WebSocket per TCP connection (Upgrade); 2: streams of an h2c connection
    // (RFC 8441); 3: streams of an HTTP/3 connection (RFC 9220, QUIC to the same port)
    int http_version = 1;
    uint32_t streams = 1; // -m: WebSockets per connection (HTTP/2 and HTTP/3)
    bool hold = false;    // each WebSocket sends one message, then stays open and idle until the end
};

// Parses argv into opts; on a usage error prints why and returns false. Sets
// *exit_now for --help.
bool parse_ws_options(int argc, char** argv, ws_options* opts, bool* exit_now);

} // namespace ringbolt_load
