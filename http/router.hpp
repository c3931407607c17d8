// Route table: a radix tree over path segments with typed parameters
// ("{name}" = one segment as str, "{name:int}" = one segment as int64), methods per route.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::http {

enum class param_type : uint8_t { str, integer };

inline constexpr size_t max_route_params = 16;

struct route_param {
    param_type type;
    std::string_view raw; ///< the path segment as sent (not percent-decoded; points into the looked-up path)
    int64_t int_value;    ///< valid when type == integer
};

struct route_match {
    uint32_t handler_id = 0; ///< the id given to add()
    uint8_t num_params = 0;
    route_param params[max_route_params]; ///< in the order they appear in the pattern
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
    /// a decoded "%2F" never splits a segment. Static segments win over parameters,
    /// and int parameters over str parameters at the same position.
    /// HEAD falls back to the GET route when no HEAD route exists.
    /// method_not_allowed: the path matches but not the method; `allowed` gets the mask.
    route_status lookup(uint16_t method_id, std::string_view path, route_match& out, uint16_t& allowed) const noexcept;

    /// Parameter names of a registered route, in pattern order.
    const std::vector<std::string>& param_names(uint32_t handler_id) const;

  private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

} // namespace ringbolt::http
