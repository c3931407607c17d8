// Owns: ringbolt-h3-load's command line — the HTTP/3 request options on top of the shared
// ones (command_line.hpp): request count, streams per connection, method, headers, body,
// and a list of request paths rotated per request (-i, as h2load's).
#pragma once

#include "command_line.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt_load {

struct h3_options : request_options {
    // -i FILE: the paths of the URIs in FILE (one a line), which each connection requests
    // in turn, from the first, instead of the URL's path; empty: the URL's path only.
    std::vector<std::string> paths;
};

// The request paths of a URI list (h2load's -i format): one URI a line, `https://host:port/path`
// (its scheme, host and port are ignored: the URL operand's are used) or `/path`; blank
// lines skipped. On an error prints why (naming the line) and returns false.
bool read_uri_paths(const char* file, std::vector<std::string>* out);

// Parses argv into opts (-p and --streams are the same: request streams in flight per
// connection; -i reads the URI list); on a usage error prints why and returns false.
// Sets *exit_now for --help.
bool parse_h3_options(int argc, char** argv, h3_options* opts, bool* exit_now);

} // namespace ringbolt_load
