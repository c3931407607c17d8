// A handler's file response (FileResponse, an ASGI pathsend, a wsgi.file_wrapper) made
// into its message: the file opened and checked when the handler returned, the head
// built from the handler's headers (plus the file's Last-Modified where it asks for
// one), the body a file range sent with sendfile().
#include "pymod/native/bridge/app_bridge.hpp"

#include "core/date_cache.hpp"
#include "core/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ringbolt::py {

// A file response is decided here, when the handler returned it: a path that cannot be
// opened is a 404 (403 when permission is denied), never an error later on the wire.
bool app_bridge::file_message(const response_parts& parts, http::app_response& resp) {
    int fd = ::open(parts.path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        ::close(fd);
        fd = -1;
        errno = ENOENT;
    }
    if (fd < 0) {
        bool denied = errno == EACCES;
        problem_answer(resp, denied ? 403 : 404, denied ? http::problem_forbidden : http::problem_file_not_found);
        return true;
    }
    response_parts sized;
    sized.status = parts.status;
    sized.content_type = parts.content_type;
    sized.known_type = parts.known_type;
    sized.source = response_parts::body_source::file;
    for (const auto& h : parts.headers) {
        sized.headers.push_back(h);
    }
    if (!build_head(sized, resp.start)) {
        ::close(fd);
        return false;
    }
    if (resp.start.fields.empty()) {
        resp.start.fields.assign(resp.start.static_fields); // more lines follow
    }
    bool has_modified = std::any_of(parts.headers.begin(), parts.headers.end(),
                                    [](const auto& h) { return core::iequals(h.first, "last-modified"); });
    if (parts.last_modified && !has_modified) { // the app's own wins
        char modified[32];
        core::format_imf_fixdate(st.st_mtime, modified);
        resp.start.fields.append("Last-Modified: ");
        resp.start.fields.append(modified, 29);
        resp.start.fields.append("\r\n");
    }
    resp.start.content_length = static_cast<int64_t>(st.st_size);
    http::app_response_more& more = resp.rare();
    more.file = std::make_shared<core::file_handle>(fd);
    more.file_offset = 0;
    more.file_length = static_cast<uint64_t>(st.st_size);
    resp.parts = http::app_response::part_head | http::app_response::part_body | http::app_response::part_end;
    return true;
}

} // namespace ringbolt::py
