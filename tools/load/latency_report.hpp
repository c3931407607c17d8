// Owns: the parts of the report both load generators print the same way — a latency
// summary (text and JSON) from the histogram, durations for people, JSON strings.
#pragma once

#include "histogram.hpp"

#include <string>

namespace ringbolt_load {

// "850 us", "1.25 ms", "2.00 s".
std::string human_us(double us);
// s as the inside of a JSON string: quotes, backslashes and control characters escaped.
std::string json_escape(const std::string& s);

// The two text lines "  latency  min .., mean .., stdev .., max .." and
// "  percentiles  p50 .., ..., max ..".
void print_latency_text(const histogram& h);
// "latency_us":{"count":..,"min":..,"mean":..,"stdev":..,"p50":.., ...,"max":..}
// (without a separator after it).
void print_latency_json(const histogram& h);

} // namespace ringbolt_load
