// RFC 9457 problem details for the answers the runtime gives itself (unknown route,
// method not allowed, overload, a handler's failure): one error format with the app's
// own errors (ringbolt.errors, which builds the same members in Python).
#pragma once

#include "http/http_error.hpp"

#include <string_view>

/// A constant problem body from literals: `title` is the status's reason phrase, `status`
/// a number, `detail` one sentence naming the cause (no '"' or '\\': it is put in as is).
/// String-literal concatenation: the body is in the binary, never built per answer.
#define RINGBOLT_PROBLEM(title, status, detail)                                                                        \
    "{\"type\":\"about:blank\",\"title\":\"" title "\",\"status\":" #status ",\"detail\":\"" detail "\"}"

namespace ringbolt::http {

/// The Content-Type line of every problem answer (RFC 9457 §3).
inline constexpr std::string_view problem_content_type = "Content-Type: application/problem+json\r\n";

// Members: type (about:blank: the status says it all, RFC 9457 §4.2.1), title (the
// status's reason phrase), status, detail. Constant bodies: no allocation per answer.
inline constexpr std::string_view problem_not_found =
    R"({"type":"about:blank","title":"Not Found","status":404,"detail":"No route matches this path."})";
inline constexpr std::string_view problem_method_not_allowed =
    R"({"type":"about:blank","title":"Method Not Allowed","status":405,)"
    R"("detail":"The path does not take this method; the Allow header lists those it takes."})";
inline constexpr std::string_view problem_unavailable =
    R"({"type":"about:blank","title":"Service Unavailable","status":503,)"
    R"("detail":"The server is at its concurrency limit; retry later."})";
inline constexpr std::string_view problem_starting =
    R"({"type":"about:blank","title":"Service Unavailable","status":503,)"
    R"("detail":"The server is starting; retry later."})";
inline constexpr std::string_view problem_internal_error =
    R"({"type":"about:blank","title":"Internal Server Error","status":500,)"
    R"("detail":"The server failed to answer this request."})";
inline constexpr std::string_view problem_forbidden =
    R"({"type":"about:blank","title":"Forbidden","status":403,"detail":"The file cannot be read."})";
inline constexpr std::string_view problem_file_not_found =
    R"({"type":"about:blank","title":"Not Found","status":404,"detail":"The file does not exist."})";

// Static files (dispatch/static_files.cpp): what a mount answers besides the file.
inline constexpr std::string_view problem_static_method =
    RINGBOLT_PROBLEM("Method Not Allowed", 405, "Static files answer GET and HEAD only.");
inline constexpr std::string_view problem_static_bad_path =
    RINGBOLT_PROBLEM("Bad Request", 400, "The path has a malformed percent-encoding.");
inline constexpr std::string_view problem_static_no_fds =
    RINGBOLT_PROBLEM("Service Unavailable", 503, "The server has too many open files to open this one; retry later.");
inline constexpr std::string_view problem_static_changed =
    RINGBOLT_PROBLEM("Service Unavailable", 503, "The file changed while it was read; retry.");
inline constexpr std::string_view problem_precondition_failed =
    RINGBOLT_PROBLEM("Precondition Failed", 412, "If-Match or If-Unmodified-Since does not hold for the current file.");
inline constexpr std::string_view problem_range_not_satisfiable = RINGBOLT_PROBLEM(
    "Range Not Satisfiable", 416, "No range of the Range header overlaps the file; Content-Range gives its length.");

// An HTTP/1.x request on an HTTP/2-only listener (--http 2; http1_connection::refuse_http1).
inline constexpr std::string_view problem_http2_only = RINGBOLT_PROBLEM(
    "HTTP Version Not Supported", 505,
    "This port serves HTTP/2 only: send the HTTP/2 connection preface (h2c with prior knowledge, or h2 by TLS ALPN).");

// WebSocket handshakes refused before the application (ws/opening.cpp, the dispatcher).
inline constexpr std::string_view problem_websocket_only =
    RINGBOLT_PROBLEM("Upgrade Required", 426, "This is a WebSocket endpoint: send an Upgrade: websocket handshake.");

// FastAPI's conventions (an app with conventions="fastapi"): Starlette's bodies for the
// answers the router gives itself, as application/json.
inline constexpr std::string_view detail_content_type = "Content-Type: application/json\r\n";
inline constexpr std::string_view detail_not_found = R"({"detail":"Not Found"})";
inline constexpr std::string_view detail_method_not_allowed = R"({"detail":"Method Not Allowed"})";

/// The body of the answer to a request the HTTP/1.1 parser refused, naming the cause.
/// `status_of(e)` is its status; the title is that status's reason phrase.
constexpr std::string_view problem_of(http_error e) noexcept {
    switch (e) {
    case http_error::missing_host:
        return RINGBOLT_PROBLEM("Bad Request", 400,
                                "An HTTP/1.1 request needs a Host header field (RFC 9112 section 3.2).");
    case http_error::bad_host:
        return RINGBOLT_PROBLEM("Bad Request", 400,
                                "The Host header field is invalid or given more than once (RFC 9112 section 3.2).");
    case http_error::repeated_credentials:
        return RINGBOLT_PROBLEM("Bad Request", 400,
                                "The Authorization or Proxy-Authorization header field is given more than once: a "
                                "request carries one credential in each (RFC 9110 sections 11.6.2 and 11.7.2).");
    case http_error::bad_content_length:
        return RINGBOLT_PROBLEM("Bad Request", 400,
                                "Content-Length is not one non-negative integer (RFC 9110 section 8.6).");
    case http_error::ambiguous_framing:
        return RINGBOLT_PROBLEM(
            "Bad Request", 400,
            "Content-Length and Transfer-Encoding together make the body's length ambiguous (RFC 9112 section 6.3).");
    case http_error::bad_transfer_encoding:
        return RINGBOLT_PROBLEM("Bad Request", 400,
                                "Transfer-Encoding must end in chunked, and only on HTTP/1.1 (RFC 9112 section 6.1).");
    case http_error::bad_chunk:
        return RINGBOLT_PROBLEM("Bad Request", 400,
                                "The chunked body is malformed: a chunk size, extension, terminator or trailer does "
                                "not parse (RFC 9112 section 7.1).");
    case http_error::uri_too_long:
        return RINGBOLT_PROBLEM("URI Too Long", 414,
                                "The request line is longer than the server's limit (max_request_line).");
    case http_error::header_too_large:
        return RINGBOLT_PROBLEM("Request Header Fields Too Large", 431,
                                "The request's header fields exceed the server's limit on bytes or on count "
                                "(max_header_size, max_headers).");
    case http_error::body_too_large:
        return RINGBOLT_PROBLEM("Content Too Large", 413,
                                "The request body is larger than the server's limit (max_body_size).");
    case http_error::not_implemented:
        return RINGBOLT_PROBLEM("Not Implemented", 501,
                                "The request uses a transfer coding this server does not implement (only chunked).");
    case http_error::method_not_implemented:
        return RINGBOLT_PROBLEM("Not Implemented", 501,
                                "This method is not implemented: the server opens no CONNECT tunnels.");
    case http_error::version_not_supported:
        return RINGBOLT_PROBLEM("HTTP Version Not Supported", 505,
                                "Only HTTP/1.0 and HTTP/1.1 requests are served here.");
    case http_error::expectation_failed:
        return RINGBOLT_PROBLEM("Expectation Failed", 417,
                                "The only expectation this server meets is 100-continue (RFC 9110 section 10.1.1).");
    case http_error::request_timeout:
        return RINGBOLT_PROBLEM(
            "Request Timeout", 408,
            "The request did not arrive in time: its head within header_timeout, or its body above min_body_rate.");
    default: // bad_request, and anything the parser does not name more precisely
        return RINGBOLT_PROBLEM(
            "Bad Request", 400,
            "The request does not parse: a malformed request line, header field or framing (RFC 9112).");
    }
}

} // namespace ringbolt::http
