// Incremental decoder for Transfer-Encoding: chunked (RFC 9112 §7.1), with
// extensions and trailers validated. Stateful: feed bytes as they arrive.
#pragma once

#include "http/http_error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringbolt::http {

struct chunked_limits {
    uint64_t max_body = 1 << 20;      ///< decoded body limit -> body_too_large (413)
    size_t max_chunk_line = 4096;     ///< chunk-size line incl. extensions -> bad_chunk
    size_t max_trailer_bytes = 16384; ///< whole trailer section -> header_too_large (431)
};

enum class chunked_status : uint8_t { incomplete, complete, error };

struct chunked_outcome {
    chunked_status status;
    http_error error; ///< set when status == error
    size_t consumed;  ///< bytes of `in` consumed by this call (all of them unless complete)
};

class chunked_decoder {
  public:
    explicit chunked_decoder(chunked_limits limits = {}) noexcept : _limits(limits) {}

    /// Consume bytes of `in`, appending decoded data to `body`.
    /// incomplete: all of `in` was consumed, more is needed.
    /// complete: the last chunk and trailers ended after `consumed` bytes (bytes after
    ///           that belong to the next request).
    /// error: malformed input (never recoverable).
    chunked_outcome feed(std::string_view in, std::string& body) noexcept;

    void reset() noexcept;
    uint64_t decoded_bytes() const noexcept { return _decoded; }

  private:
    chunked_limits _limits;
    // Internal state: implementation-defined; keep it small (no allocation).
    uint8_t _state = 0;                   ///< chunked.cpp `state` value
    http_error _error = http_error::none; ///< sticky error once in the error state
    uint64_t _chunk_left = 0;             ///< chunk-size being read, then data bytes still to copy
    uint64_t _decoded = 0;                ///< decoded body bytes so far
    size_t _line_bytes = 0;               ///< bytes of the current chunk-size line (without CRLF)
    size_t _trailer_bytes = 0;            ///< bytes of the trailer section so far (incl. final CRLF)
};

} // namespace ringbolt::http
