// The Range request field for bytes (RFC 9110 §14.1.2, §14.2): a pure parser that
// resolves one range against a representation's length. Several ranges are reported
// as `multiple` (the static server answers them with the whole representation, 200,
// which §14.2 allows: a server may ignore Range).
#pragma once

#include <cstdint>
#include <string_view>

namespace ringbolt::http {

enum class range_kind : uint8_t {
    none,          ///< no usable Range: malformed, another unit, or not sent: answer 200 (RFC 9110 §14.2)
    single,        ///< one satisfiable range: answer 206 with `first`..`first+length-1`
    multiple,      ///< two or more ranges, at least one satisfiable: not served as such (200)
    unsatisfiable, ///< well-formed, but no range overlaps the representation: 416 with "bytes */size"
};

struct byte_range {
    range_kind kind = range_kind::none;
    uint64_t first = 0;  ///< single: the first byte
    uint64_t length = 0; ///< single: how many bytes (>= 1)
};

/// Parse `value` (the Range field value) against a representation of `size` bytes.
byte_range parse_byte_range(std::string_view value, uint64_t size) noexcept;

} // namespace ringbolt::http
