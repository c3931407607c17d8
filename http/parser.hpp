// HTTP/1.1 request-head parser: a pure function over bytes (RFC 9112 strict).
// Returns complete / incomplete / error; allocates nothing; every string_view
// in request_head points into the caller's buffer.
#pragma once

#include "http/http_error.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringbolt::http {

/// Hard cap on stored header fields (the configurable limit must not exceed it).
inline constexpr size_t max_header_fields = 128;

struct parser_limits {
    size_t max_request_line = 8192; ///< request line bytes (without CRLF) -> 414 when exceeded
    size_t max_head_bytes = 16384;  ///< whole head incl. request line and final CRLF -> 431
    size_t max_headers = 100;       ///< header field count (<= max_header_fields) -> 431
};

struct header_field {
    std::string_view name;  ///< as received (case preserved); valid token
    std::string_view value; ///< leading/trailing OWS stripped
};

enum class body_kind : uint8_t {
    none,           ///< no body (no Content-Length / Content-Length: 0, no Transfer-Encoding)
    content_length, ///< `content_length` bytes follow the head
    chunked,        ///< Transfer-Encoding: chunked; decode with chunked_decoder
};

/// Well-known methods as bits (router masks use the same bits).
enum method_bit : uint16_t {
    method_get = 1 << 0,
    method_head = 1 << 1,
    method_post = 1 << 2,
    method_put = 1 << 3,
    method_delete = 1 << 4,
    method_patch = 1 << 5,
    method_options = 1 << 6,
    method_connect = 1 << 7,
    method_trace = 1 << 8,
    method_other = 1 << 9, ///< any other valid token
};

struct request_head {
    std::string_view method;   ///< token, e.g. "GET"
    uint16_t method_id = 0;    ///< one method_bit value
    std::string_view target;   ///< request-target as sent (origin-, absolute-, authority- or asterisk-form)
    std::string_view path;     ///< path part of the target (absolute-form: path after authority, "/" if empty;
                               ///< asterisk-form: "*"), without query; not percent-decoded
    std::string_view query;    ///< after '?', without '?' (empty if none)
    uint8_t version_minor = 1; ///< 0 or 1 (other 1.x minors are reported as 1)
    uint16_t num_headers = 0;
    header_field headers[max_header_fields];

    // Derived from the fields while parsing (RFC 9112 §§6, 9):
    body_kind body = body_kind::none;
    uint64_t content_length = 0;  ///< valid when body == content_length
    bool keep_alive = true;       ///< 1.1: unless "Connection: close"; 1.0: only with "Connection: keep-alive"
    bool expect_continue = false; ///< "Expect: 100-continue"
    bool upgrade = false;         ///< Connection: upgrade + Upgrade header present
    std::string_view host;        ///< Host field value (empty if absent)
    size_t head_bytes = 0;        ///< bytes of the head incl. the final CRLF (== parse_outcome::consumed)

    /// The last Host value (up to 64 bytes) this object's parses found valid: the next
    /// head parsed into it with the same bytes (a connection's requests, a reactor's
    /// clients: most often) skips the uri-host[:port] check. Kept across parses; zero
    /// bytes until a first valid Host.
    static constexpr size_t checked_host_max = 64;
    uint8_t checked_host_len = 0;
    char checked_host[checked_host_max] = {};
};

/// request_head::version_minor of a request that came over HTTP/2 (the h2 protocol
/// synthesizes an HTTP/1.1 head for the dispatcher and marks it with this).
inline constexpr uint8_t version_http2 = 20;
/// request_head::version_minor of a request that came over HTTP/3 (h3/, the same way).
inline constexpr uint8_t version_http3 = 30;

enum class parse_status : uint8_t { complete, incomplete, error };

struct parse_outcome {
    parse_status status;
    http_error error; ///< set when status == error
    size_t consumed;  ///< bytes of the head (incl. leading empty lines skipped) when complete
};

/// Parse one request head from the start of `buf`.
/// - complete: `out` is filled, `consumed` bytes form the head (the body, if any, follows).
/// - incomplete: need more bytes (limits are still enforced on what is there: a
///   request line or head already over the limit is an error, not incomplete).
/// - error: `error` says why (400/414/431/501/505 family); the connection must be closed.
/// Leading CRLFs before the request line are skipped (RFC 9112 §2.2).
parse_outcome parse_request_head(std::string_view buf, request_head& out, const parser_limits& limits) noexcept;

/// Cheap check used before re-parsing a growing buffer: true when `buf` contains the
/// end of a head ("\r\n\r\n") at or after `from`. Lets the caller avoid O(n^2) work on
/// a head that arrives one byte at a time.
/// Only a hint: a head that is over a limit (414/431) or malformed never reaches its end,
/// so also re-parse once the buffer has grown past the limits (or on every read; the
/// parser reports such errors as soon as the offending bytes are in, before "\r\n\r\n").
bool has_head_end(std::string_view buf, size_t from) noexcept;

/// What a request that was refused before its head parsed said, as far as it came (the
/// access-log line of its error answer): the method (up to the first space, when a token),
/// the target (up to the next space or line end, or all there is), the minor version
/// (HTTP/1.0: 0, else 1). Empty views for what did not come or is not a request line.
struct request_line_start {
    std::string_view method;
    std::string_view target;
    uint8_t version_minor = 1;
};
request_line_start scan_request_line(std::string_view buf) noexcept;

} // namespace ringbolt::http
