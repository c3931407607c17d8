// Accept-Encoding (RFC 9110 §12.5.3): the client's content codings and their q-values,
// and the choice of one among the codings the server offers. Pure over bytes, no
// allocation; shared by response compression and precompressed static files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringbolt::http {

/// The content codings the server can produce. `identity` is "no coding".
enum class content_coding : uint8_t { identity = 0, gzip = 1, br = 2, zstd = 3 };
inline constexpr size_t content_coding_count = 4;

/// The token of a coding as it appears in Content-Encoding ("" for identity).
std::string_view coding_name(content_coding c) noexcept;
/// The coding a token names (case-insensitive; "x-gzip" is gzip, RFC 9110 §8.4.1.3);
/// false for anything else.
bool coding_from_name(std::string_view name, content_coding& out) noexcept;

/// What one or more Accept-Encoding field values say. q-values are in thousandths
/// (0..1000); `unset` means the coding was not named.
struct accept_encoding {
    static constexpr int16_t unset = -1;
    int16_t q[content_coding_count] = {unset, unset, unset, unset}; ///< by content_coding
    int16_t star = unset;                                           ///< "*"
    bool present = false;                                           ///< a field was seen (even empty)

    /// The weight the client gives `c`: its own q, else the "*" q, else 0 for a coding
    /// (not acceptable unless named) and 1000 for identity (always acceptable unless
    /// refused by "identity;q=0" or "*;q=0" without an identity entry).
    int16_t quality(content_coding c) const noexcept;
};

/// Add one Accept-Encoding field value to `out` (several fields combine as one list,
/// RFC 9110 §5.3; a coding named twice keeps its highest q). Returns false on a syntax
/// error: the caller then ignores the whole header (identity only). Unknown codings are
/// accepted and ignored.
[[nodiscard]] bool parse_accept_encoding(std::string_view value, accept_encoding& out) noexcept;

/// The coding to use: among `offered` (the server's preference order), the one the
/// client weighs highest with q > 0; equal weights go to the earlier in `offered`.
/// identity when none is acceptable (or nothing was offered).
content_coding choose_coding(const accept_encoding& ae, std::span<const content_coding> offered) noexcept;

} // namespace ringbolt::http
