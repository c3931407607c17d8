// Owns: ringbolt-load's command line — the HTTP options on top of the shared ones
// (command_line.hpp) — and the request bytes every connection sends.
#pragma once

#include "command_line.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt_load {

struct options : request_options {};

// Parses argv into opts; on a usage error prints why and returns false. Sets
// *exit_now for --help.
bool parse_options(int argc, char** argv, options* opts, bool* exit_now);

// One request as bytes (method, path, Host, user headers, Content-Length, body).
std::string build_request(const options& opts);

} // namespace ringbolt_load
