// Content-Type by file extension: a built-in table of the common web types (text types
// carry charset=utf-8), looked up case-insensitively. Unknown: application/octet-stream.
#pragma once

#include <string_view>

namespace ringbolt::http {

/// The Content-Type value for a file name (only its last extension counts).
std::string_view content_type_for(std::string_view file_name) noexcept;

} // namespace ringbolt::http
