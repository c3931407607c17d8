// Route table: a radix tree over path segments with typed parameters ("{name}" or
// "{name:str}" = one segment, "{name:int}" = int64, "{name:float}" = a decimal number,
// "{name:uuid}" = a canonical UUID, "{name:path}" = the rest of the path), methods per route.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ringbolt::dispatch {

/// A parameter's converter. A segment that does not convert does not match (the lookup
/// backtracks to other routes, else not_found).
enum class param_type : uint8_t {
    str,      ///< one non-empty segment
    integer,  ///< -?[0-9]{1,19} fitting int64
    floating, ///< -?[0-9]+(.[0-9]+)? (no exponent, no inf/nan), a finite double
    uuid,     ///< 8-4-4-4-12 hex digits (either case)
    path,     ///< the rest of the path, non-empty, '/' included; only as the last segment
};

inline constexpr size_t max_route_params = 16;

struct route_param {
    param_type type;
    std::string_view raw; ///< the path segment (path: the rest) as sent (not percent-decoded; points into the path)
    int64_t int_value;    ///< integer: the value; floating: the double's bits (float_of); else 0
};

// route_match keeps its parameters in a union and relies on trivial assignment to start
// their lifetime.
static_assert(std::is_trivially_copyable_v<route_param>);

/// The double a floating parameter carries in its int_value.
inline double float_of(int64_t bits) noexcept {
    return std::bit_cast<double>(bits);
}

struct route_match {
    uint32_t handler_id = 0; ///< the id given to add()
    uint8_t num_params = 0;
    /// In the order they appear in the pattern; only [0, num_params) are written. Not
    /// zero-filled on construction (16 string_views: about 50 instructions a lookup, on
    /// every request): a union member whose lifetime the lookup's trivial assignments
    /// start (C++20 [class.union]).
    union {
        route_param params[max_route_params];
    };
    route_match() noexcept {}
};

enum class route_status : uint8_t { found, not_found, method_not_allowed };

class route_table {
  public:
    route_table();
    ~route_table();
    route_table(route_table&&) noexcept;
    route_table& operator=(route_table&&) noexcept;

    /// Register `pattern` (must start with '/') for the methods in `method_mask`
    /// (http::method_bit values). Returns an empty string on success, else a message
    /// saying what is wrong (bad pattern syntax, unknown param type, duplicate param
    /// name, same pattern+method registered twice, a handler id reused with other param
    /// names). Routes may name the parameter at the same position differently
    /// ("/u/{id}" and "/u/{name}/x"): names are kept per route. Static parts are taken
    /// literally (write "/café", not "/caf%C3%A9"); "/a" and "/a/" are different routes.
    std::string add(std::string_view pattern, uint16_t method_mask, uint32_t handler_id);

    /// Look up `path` (the raw path, no query) for method `method_id` (one method_bit).
    /// Segments are compared after percent-decoding (so "/caf%C3%A9" matches "/café");
    /// a decoded "%2F" never splits a segment. Static segments win over parameters; at
    /// the same position parameters are tried int, float, uuid, str, then path.
    /// HEAD falls back to the GET route when no HEAD route exists.
    /// method_not_allowed: the path matches but not the method; `allowed` gets the mask.
    route_status lookup(uint16_t method_id, std::string_view path, route_match& out, uint16_t& allowed) const noexcept;

    /// Parameter names of a registered route, in pattern order.
    const std::vector<std::string>& param_names(uint32_t handler_id) const;

  private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

} // namespace ringbolt::dispatch
