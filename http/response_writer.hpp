// Serializes HTTP/1.1 responses: status line, the common headers (Server, Date,
// Connection), caller headers, Content-Length and body, appended to one buffer.
// Output is always delimited; no body (and no Content-Length) for 1xx/204/304,
// Content-Length but no body for HEAD (RFC 9110 §9.3.2, §6.4.1).
#pragma once

#include "http/http_error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ringbolt::http {

/// Reason phrase for a status code ("OK", "Not Found", ...; "" for unknown codes).
std::string_view reason_phrase(uint16_t status) noexcept;

/// True when a response with this status never has a body.
constexpr bool status_forbids_body(uint16_t status) noexcept {
    return status < 200 || status == 204 || status == 304;
}

/// True when `s` may be sent as a header field value (no CR, LF or NUL; RFC 9110 §5.5).
bool valid_field_value(std::string_view s) noexcept;
/// True when `s` is a valid header field name (token, RFC 9110 §5.1).
bool valid_field_name(std::string_view s) noexcept;

struct response_spec {
    uint16_t status = 200;
    std::string_view content_type; ///< omitted when empty
    std::string_view body;
    bool head_request = false;      ///< HEAD: send Content-Length of `body` but no body
    bool close = false;             ///< add "Connection: close"
    bool keep_alive_header = false; ///< add "Connection: keep-alive" (HTTP/1.0 persistent)
};

/// Append a whole response. `extra_headers` is a range of {name, value} string_view
/// pairs that the caller validated (names/values already checked).
template <class Headers>
void write_response(std::string& out, const response_spec& spec, std::string_view date, const Headers& extra_headers);

/// Append a response without extra headers.
void write_response(std::string& out, const response_spec& spec, std::string_view date);

/// Append the status line and the common headers, up to (not including) the caller's
/// headers. Used by write_response and by the pre-serialized (const) routes.
void write_head_start(std::string& out, uint16_t status, std::string_view date, bool close, bool keep_alive_header);

/// Append "Content-Length: n\r\n\r\n" (or just "\r\n" when the status forbids a body).
void write_head_end(std::string& out, uint16_t status, size_t body_len);

/// Append a plain-text error response for `err` (always "Connection: close").
void write_error_response(std::string& out, http_error err, std::string_view date);

/// Append a plain-text response with `status` and a short body (404/405/500/503...).
void write_simple_response(std::string& out, uint16_t status, std::string_view body, std::string_view date, bool close,
                           bool head_request, std::string_view extra_name = {}, std::string_view extra_value = {});

// ---- template implementation ----
void append_header(std::string& out, std::string_view name, std::string_view value);

template <class Headers>
void write_response(std::string& out, const response_spec& spec, std::string_view date, const Headers& extra_headers) {
    write_head_start(out, spec.status, date, spec.close, spec.keep_alive_header);
    if (!spec.content_type.empty() && !status_forbids_body(spec.status)) {
        append_header(out, "Content-Type", spec.content_type);
    }
    for (const auto& [name, value] : extra_headers) {
        append_header(out, name, value);
    }
    write_head_end(out, spec.status, spec.body.size());
    if (!spec.head_request && !status_forbids_body(spec.status)) {
        out.append(spec.body);
    }
}

} // namespace ringbolt::http
