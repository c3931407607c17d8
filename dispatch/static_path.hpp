// The part of a request path below a static mount, turned into a file name relative to
// the mount's root, or refused. A pure function over bytes: every traversal trick
// (encoded dot-segments, encoded or raw separators, NUL, empty segments) is refused
// here, before anything touches the file system; the open beneath the root
// (static_files.cpp) is the second wall, for symlinks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringbolt::dispatch {

enum class static_path_status : unsigned char {
    ok,          ///< `out` is a relative file name ("a/b.css"; "" for the mount's root)
    not_found,   ///< a name that can never be served from the root: 404
    bad_request, ///< malformed percent-encoding (RFC 3986 §2.1): 400
};

struct static_path {
    static_path_status status = static_path_status::not_found;
    bool trailing_slash = false; ///< the path ended with '/': a directory is asked for
};

/// Longest relative name accepted (decoded bytes); longer: not_found.
inline constexpr size_t max_static_path = 1024;

/// `rest`: the raw path after the mount prefix ("" or starting with '/'), not decoded.
/// Each segment is percent-decoded once; a segment that decodes to "." or "..", or
/// contains '/', '\\', NUL or another control byte, an empty segment ("a//b"), and
/// (unless `dotfiles`) a segment starting with '.', are refused with not_found.
/// `out` receives the decoded segments joined by '/', without leading or trailing '/'.
static_path sanitize_static_path(std::string_view rest, bool dotfiles, std::string& out);

} // namespace ringbolt::dispatch
