// Percent-decoding and query-string splitting (application/x-www-form-urlencoded
// rules for the query: '+' is a space there, not in paths).
#pragma once

#include <string>
#include <string_view>

namespace ringbolt::http {

/// Decode %XX escapes of `in` into `out` (appends). With `plus_as_space`, '+' becomes ' '.
/// Returns false on a malformed escape ('%' not followed by two hex digits); `out` is
/// then unspecified.
bool percent_decode(std::string_view in, std::string& out, bool plus_as_space) noexcept;

/// True when `in` has something to decode (a '%', or a '+' if plus_as_space).
bool needs_decoding(std::string_view in, bool plus_as_space) noexcept;

/// Split a query string into name/value pairs on '&' (';' is not a separator),
/// decode both (plus as space), and call fn(name, value) for each pair in order.
/// A pair without '=' has an empty value; empty pairs ("a=1&&b=2") are skipped.
/// A malformed escape is kept literally while valid ones around it are decoded
/// (exactly what urllib.parse.parse_qsl does: "a=%41%zz" gives "A%zz").
template <class Fn> void for_each_query_param(std::string_view query, Fn&& fn);

} // namespace ringbolt::http

#include "http/query_impl.hpp"
