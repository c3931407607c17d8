// Owns: ringbolt-h3-load's command line — the HTTP/3 request options on top of the shared
// ones (command_line.hpp): request count, streams per connection, method, headers, body.
#pragma once

#include "command_line.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt_load {

struct h3_options : request_options {};

// Parses argv into opts (-p and --streams are the same: request streams in flight per
// connection); on a usage error prints why and returns false. Sets *exit_now for --help.
bool parse_h3_options(int argc, char** argv, h3_options* opts, bool* exit_now);

} // namespace ringbolt_load
