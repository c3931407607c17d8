// RFC 9457 problem details for the answers the runtime gives itself (unknown route,
// method not allowed, overload, a handler's failure): one error format with the app's
// own errors (ringbolt.errors, which builds the same members in Python).
#pragma once

#include <string_view>

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
inline constexpr std::string_view problem_internal_error =
    R"({"type":"about:blank","title":"Internal Server Error","status":500,)"
    R"("detail":"The server failed to answer this request."})";
inline constexpr std::string_view problem_forbidden =
    R"({"type":"about:blank","title":"Forbidden","status":403,"detail":"The file cannot be read."})";
inline constexpr std::string_view problem_file_not_found =
    R"({"type":"about:blank","title":"Not Found","status":404,"detail":"The file does not exist."})";

} // namespace ringbolt::http
