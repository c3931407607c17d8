// Why a request is refused: one enum, one status per value, one reason text.
// The ready-made error responses (http/error_responses.hpp) are indexed by this enum.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringbolt::http {

enum class http_error : uint8_t {
    none = 0,               ///< no error
    bad_request,            ///< 400: malformed request line, header field, framing or chunk
    missing_host,           ///< 400: HTTP/1.1 request without Host (RFC 9112 §3.2)
    bad_host,               ///< 400: duplicate or invalid Host
    repeated_credentials,   ///< 400: Authorization or Proxy-Authorization more than once (RFC 9110 §11.6.2, §11.7.2)
    bad_content_length,     ///< 400: non-numeric, signed, overflowing or differing Content-Length
    ambiguous_framing,      ///< 400: Content-Length together with Transfer-Encoding (RFC 9112 §6.3)
    bad_transfer_encoding,  ///< 400: Transfer-Encoding not ending in chunked, or chunked on HTTP/1.0
    bad_chunk,              ///< 400: malformed chunk size, extension, data terminator or trailer
    uri_too_long,           ///< 414: request line over the limit
    header_too_large,       ///< 431: header block over the byte limit or too many fields
    body_too_large,         ///< 413: body over the limit (Content-Length or decoded chunked)
    not_implemented,        ///< 501: unknown transfer coding
    method_not_implemented, ///< 501: method not supported (CONNECT, ...)
    version_not_supported,  ///< 505: HTTP major version other than 1
    expectation_failed,     ///< 417: Expect other than 100-continue
    request_timeout,        ///< 408: headers or body not received in time
    count_                  ///< number of values (not an error)
};

/// HTTP status code sent for an error.
constexpr uint16_t status_of(http_error e) noexcept {
    switch (e) {
    case http_error::none:
        return 200;
    case http_error::uri_too_long:
        return 414;
    case http_error::header_too_large:
        return 431;
    case http_error::body_too_large:
        return 413;
    case http_error::not_implemented:
    case http_error::method_not_implemented:
        return 501;
    case http_error::version_not_supported:
        return 505;
    case http_error::expectation_failed:
        return 417;
    case http_error::request_timeout:
        return 408;
    default:
        return 400;
    }
}

/// Short human-readable cause, used in the error body and in logs.
constexpr std::string_view reason_of(http_error e) noexcept {
    switch (e) {
    case http_error::none:
        return "OK";
    case http_error::bad_request:
        return "Malformed request";
    case http_error::missing_host:
        return "Missing Host header";
    case http_error::bad_host:
        return "Invalid or duplicate Host header";
    case http_error::repeated_credentials:
        return "Duplicate Authorization or Proxy-Authorization header";
    case http_error::bad_content_length:
        return "Invalid Content-Length";
    case http_error::ambiguous_framing:
        return "Both Content-Length and Transfer-Encoding";
    case http_error::bad_transfer_encoding:
        return "Invalid Transfer-Encoding";
    case http_error::bad_chunk:
        return "Malformed chunked body";
    case http_error::uri_too_long:
        return "Request line too long";
    case http_error::header_too_large:
        return "Request header fields too large";
    case http_error::body_too_large:
        return "Request body too large";
    case http_error::not_implemented:
        return "Transfer coding not implemented";
    case http_error::method_not_implemented:
        return "Method not implemented";
    case http_error::version_not_supported:
        return "HTTP version not supported";
    case http_error::expectation_failed:
        return "Expectation failed";
    case http_error::request_timeout:
        return "Request timeout";
    default:
        return "Error";
    }
}

} // namespace ringbolt::http
