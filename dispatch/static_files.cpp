// Static file answers: open beneath the root, stat, validators, conditionals (RFC 9110
// §13), ranges (§14), precompressed siblings, and the answer's head fields.
#include "dispatch/static_files.hpp"

#include "core/date_cache.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "dispatch/static_path.hpp"
#include "http/accept_encoding.hpp"
#include "http/byte_range.hpp"
#include "http/http_date.hpp"
#include "http/mime_types.hpp"
#include "http/problem.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <mutex>
#include <span>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ringbolt::dispatch {

namespace {

/// The file a precompressed representation is stored in, beside the original.
std::string_view sibling_suffix(http::content_coding c) noexcept {
    switch (c) {
    case http::content_coding::zstd:
        return ".zst";
    case http::content_coding::br:
        return ".br";
    case http::content_coding::gzip:
        return ".gz";
    case http::content_coding::identity:
        break;
    }
    return "";
}

constexpr int open_flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK; // a FIFO must not block the reactor

enum class open_method : int { unknown, openat2, realpath };
std::atomic<int> g_method{static_cast<int>(open_method::unknown)};
std::once_flag g_probe;

void probe_openat2(int root) noexcept {
    open_method m = open_method::realpath;
    const char* why = "";
    const char* force = std::getenv("RINGBOLT_STATIC_NO_OPENAT2"); // tests exercise the fallback
    if (force != nullptr && *force != '\0' && *force != '0') {
        why = " (RINGBOLT_STATIC_NO_OPENAT2 is set)";
    } else {
        open_how how{};
        how.flags = static_cast<uint64_t>(O_RDONLY | O_CLOEXEC | O_DIRECTORY);
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, root, ".", &how, sizeof(how));
        if (fd >= 0) {
            ::close(static_cast<int>(fd));
            m = open_method::openat2;
        } else {
            why = errno == ENOSYS ? " (openat2 is not available: kernel older than 5.6)"
                                  : " (openat2 is refused here, e.g. by a seccomp filter)";
        }
    }
    g_method.store(static_cast<int>(m), std::memory_order_relaxed);
    if (m == open_method::openat2) {
        core::log(core::log_level::info, "static files: opened with openat2(RESOLVE_BENEATH)");
    } else {
        core::log(core::log_level::info, "static files: opened with openat + a realpath check beneath the root%s", why);
    }
}

// The request fields a static answer depends on (one pass over the head).
struct conditions {
    std::string_view if_none_match;
    std::string_view if_modified_since;
    std::string_view if_match;
    std::string_view if_unmodified_since;
    std::string_view range;
    std::string_view if_range;
    bool has_inm = false;
    bool has_im = false;
    bool has_range = false;
    bool has_if_range = false;
    http::accept_encoding accept;
    bool accept_bad = false; ///< an Accept-Encoding field did not parse: identity only
};

void read_conditions(const http::request_head& head, conditions& c) noexcept {
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        std::string_view n = head.headers[i].name;
        std::string_view v = head.headers[i].value;
        switch (n.size()) {
        case 5:
            if (core::iequals(n, "range")) {
                // Two Range fields are not a list (§14.2 has no list syntax for them): ignore both.
                c.range = c.has_range ? std::string_view("x") : v;
                c.has_range = true;
            }
            break;
        case 8:
            if (core::iequals(n, "if-match")) {
                c.if_match = v;
                c.has_im = true;
            } else if (core::iequals(n, "if-range")) {
                c.if_range = v;
                c.has_if_range = true;
            }
            break;
        case 13:
            if (core::iequals(n, "if-none-match")) {
                c.if_none_match = v; // several fields: the last one (clients send one)
                c.has_inm = true;
            }
            break;
        case 15:
            if (core::iequals(n, "accept-encoding") && !http::parse_accept_encoding(v, c.accept)) {
                c.accept_bad = true;
            }
            break;
        case 17:
            if (core::iequals(n, "if-modified-since")) {
                c.if_modified_since = v;
            }
            break;
        case 19:
            if (core::iequals(n, "if-unmodified-since")) {
                c.if_unmodified_since = v;
            }
            break;
        default:
            break;
        }
    }
}

// RFC 9110 §8.8.3: `"opaque"` or `W/"opaque"`. Strips the quotes; `weak` says which.
bool next_etag(std::string_view& list, std::string_view& tag, bool& weak, bool& star) noexcept {
    while (!list.empty() && (list.front() == ' ' || list.front() == '\t' || list.front() == ',')) {
        list.remove_prefix(1);
    }
    if (list.empty()) {
        return false;
    }
    star = false;
    weak = false;
    if (list.front() == '*') {
        star = true;
        list.remove_prefix(1);
        return true;
    }
    if (list.size() >= 2 && list[0] == 'W' && list[1] == '/') {
        weak = true;
        list.remove_prefix(2);
    }
    if (list.empty() || list.front() != '"') {
        list = {}; // malformed: stop (nothing further can be trusted)
        return false;
    }
    size_t end = list.find('"', 1);
    if (end == std::string_view::npos) {
        list = {};
        return false;
    }
    tag = list.substr(1, end - 1);
    list.remove_prefix(end + 1);
    return true;
}

// `etag` is our strong tag without quotes. Weak comparison (If-None-Match, §13.1.2) or
// strong (If-Match, §13.1.1).
bool etag_list_matches(std::string_view list, std::string_view etag, bool strong) noexcept {
    std::string_view tag;
    bool weak = false;
    bool star = false;
    while (next_etag(list, tag, weak, star)) {
        if (star) {
            return true;
        }
        if (tag == etag && !(strong && weak)) {
            return true;
        }
    }
    return false;
}

void append_dec(std::string& out, uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    out.append(buf, static_cast<size_t>(end - buf));
}

// Worth looking for a precompressed sibling: text and other compressible types.
bool compressible(std::string_view type) noexcept {
    return type.starts_with("text/") || type.find("json") != std::string_view::npos ||
           type.find("xml") != std::string_view::npos || type == "application/wasm" ||
           type == "image/vnd.microsoft.icon" || type == "image/bmp" || type == "font/ttf" || type == "font/otf" ||
           type == "application/yaml" || type == "application/toml";
}

// An error answer: RFC 9457 problem+json like every other error of the app (a constant
// body; `out` is reused, so no allocation once warm).
void problem(static_answer& out, uint16_t status, std::string_view body) {
    out.status = status;
    out.fields.assign(http::problem_content_type);
    out.body.assign(body);
}

} // namespace

std::string_view static_open_method() noexcept {
    switch (static_cast<open_method>(g_method.load(std::memory_order_relaxed))) {
    case open_method::openat2:
        return "openat2";
    case open_method::realpath:
        return "realpath";
    default:
        return "";
    }
}

std::unique_ptr<static_mount> static_mount::open(static_config cfg, std::string& error) {
    std::unique_ptr<static_mount> m(new static_mount(std::move(cfg)));
    m->_root = ::open(m->_cfg.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m->_root < 0) {
        error = "static directory " + m->_cfg.directory + ": " + std::strerror(errno);
        return nullptr;
    }
    char real[PATH_MAX];
    if (::realpath(m->_cfg.directory.c_str(), real) == nullptr) {
        error = "static directory " + m->_cfg.directory + ": " + std::strerror(errno);
        return nullptr;
    }
    m->_root_real = real;
    int root = m->_root;
    std::call_once(g_probe, [root] { probe_openat2(root); });
    return m;
}

static_mount::~static_mount() {
    if (_root >= 0) {
        ::close(_root);
    }
}

int static_mount::open_beneath(const std::string& rel) const noexcept {
    const char* name = rel.empty() ? "." : rel.c_str();
    if (static_cast<open_method>(g_method.load(std::memory_order_relaxed)) == open_method::openat2) [[likely]] {
        open_how how{};
        how.flags = static_cast<uint64_t>(open_flags);
        // Symlinks may point anywhere inside the root, never out of it (EXDEV), and
        // never through /proc magic links.
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        return static_cast<int>(syscall(SYS_openat2, _root, name, &how, sizeof(how)));
    }
    int fd = ::openat(_root, name, open_flags);
    if (fd < 0) {
        return -1;
    }
    // The fallback: where did the kernel's resolution (symlinks included) end up?
    char link[64];
    char real[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = ::readlink(link, real, sizeof(real) - 1);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof(real) - 1) {
        ::close(fd);
        errno = EXDEV; // cannot tell: refuse
        return -1;
    }
    std::string_view got(real, static_cast<size_t>(n));
    const std::string& root = _root_real;
    bool inside = got == root || (got.size() > root.size() && got.compare(0, root.size(), root) == 0 &&
                                  (root.back() == '/' || got[root.size()] == '/'));
    if (!inside) {
        ::close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}

int static_mount::open_sibling(const std::string& rel, std::string_view type, const http::accept_encoding& accept,
                               struct stat& st, http::content_coding& coding) const {
    if (!_cfg.precompressed || !accept.present || !compressible(type)) {
        return -1;
    }
    thread_local std::string sibling;
    // The server's preference among siblings; one that does not exist (or is not a
    // regular file) is dropped and the choice made again among the rest.
    http::content_coding offered[] = {http::content_coding::zstd, http::content_coding::br, http::content_coding::gzip};
    size_t n_offered = std::size(offered);
    while (n_offered > 0) {
        http::content_coding pick = choose_coding(accept, std::span<const http::content_coding>(offered, n_offered));
        if (pick == http::content_coding::identity) {
            break;
        }
        sibling.assign(rel).append(sibling_suffix(pick));
        int fd = open_beneath(sibling);
        if (fd >= 0) {
            if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
                coding = pick;
                return fd;
            }
            ::close(fd);
        }
        n_offered = static_cast<size_t>(std::remove(offered, offered + n_offered, pick) - offered);
    }
    return -1;
}

void static_mount::serve(const http::request_head& head, bool head_request, static_answer& out) const {
    out.status = 404;
    out.fields.clear();
    out.body.clear();
    out.use_file = false;
    out.file.reset();
    out.offset = 0;
    out.length = 0;
    if (head.method_id != http::method_get && head.method_id != http::method_head) {
        problem(out, 405, http::problem_static_method);
        out.fields.append("Allow: GET, HEAD\r\n");
        return;
    }
    thread_local std::string rel;
    static_path sp = sanitize_static_path(head.path.substr(_cfg.prefix.size()), _cfg.dotfiles, rel);
    if (sp.status != static_path_status::ok) [[unlikely]] {
        if (sp.status == static_path_status::bad_request) {
            problem(out, 400, http::problem_static_bad_path);
        } else {
            problem(out, 404, http::problem_file_not_found);
        }
        return;
    }
    conditions c;
    read_conditions(head, c);
    struct stat st;
    http::content_coding coding = http::content_coding::identity;
    // A precompressed sibling is looked for first: when one is served, the original is
    // never opened (one openat2, fstat, read and close per request).
    const http::accept_encoding no_accept; // an Accept-Encoding that did not parse: identity only
    const http::accept_encoding& accept = c.accept_bad ? no_accept : c.accept;
    std::string_view type = http::content_type_for(rel); // a view into the static table
    int fd = sp.trailing_slash ? -1 : open_sibling(rel, type, accept, st, coding);
    if (fd < 0) {
        fd = open_beneath(rel);
        if (fd < 0) [[unlikely]] {
            if (errno == EMFILE || errno == ENFILE) {
                problem(out, 503, http::problem_static_no_fds);
                out.fields.append("Retry-After: 1\r\n");
            } else {
                problem(out, 404, http::problem_file_not_found);
            }
            return;
        }
        if (::fstat(fd, &st) != 0) [[unlikely]] {
            ::close(fd);
            problem(out, 404, http::problem_file_not_found);
            return;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        if (_cfg.index.empty()) {
            problem(out, 404, http::problem_file_not_found); // no listings, ever
            return;
        }
        if (!sp.trailing_slash) {
            // A directory's relative links resolve against its slash form: send the
            // client there (301, as nginx and Starlette do; GET/HEAD only reach here).
            out.status = 301;
            out.fields.assign("Content-Type: text/plain; charset=utf-8\r\nLocation: ");
            out.fields.append(head.path).append("/");
            if (!head.query.empty()) {
                out.fields.append("?").append(head.query);
            }
            out.fields.append("\r\n");
            out.body.assign("Moved Permanently");
            return;
        }
        if (!rel.empty()) {
            rel.push_back('/');
        }
        rel.append(_cfg.index);
        type = http::content_type_for(rel);
        fd = open_sibling(rel, type, accept, st, coding);
        if (fd < 0) {
            fd = open_beneath(rel);
            if (fd < 0 || ::fstat(fd, &st) != 0) {
                if (fd >= 0) {
                    ::close(fd);
                }
                problem(out, 404, http::problem_file_not_found);
                return;
            }
        }
        sp.trailing_slash = false;
    }
    if (!S_ISREG(st.st_mode) || sp.trailing_slash) {
        ::close(fd); // devices, FIFOs, sockets, a file asked for as a directory ("a.txt/")
        problem(out, 404, http::problem_file_not_found);
        return;
    }
    bool varies = _cfg.precompressed && compressible(type);

    // Validators of the representation served (the sibling's own when precompressed).
    // The ETag is strong: size, modification time in ns and inode identify the bytes
    // as long as files are replaced or rewritten through the file system (§8.8.3).
    char tag[64]; // three 64-bit hex numbers and two dashes: at most 50 bytes
    size_t tag_len = 0;
    auto put_hex = [&](uint64_t v) {
        char digits[16]; // a 64-bit number has at most 16 hex digits
        auto r = std::to_chars(digits, digits + sizeof(digits), v, 16);
        size_t n = static_cast<size_t>(r.ptr - digits);
        std::memcpy(tag + tag_len, digits, n);
        tag_len += n;
    };
    put_hex(static_cast<uint64_t>(st.st_size));
    tag[tag_len++] = '-';
    put_hex(static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + static_cast<uint64_t>(st.st_mtim.tv_nsec));
    tag[tag_len++] = '-';
    put_hex(static_cast<uint64_t>(st.st_ino));
    std::string_view etag(tag, tag_len);
    std::time_t mtime = st.st_mtim.tv_sec;
    char last_modified[32];
    core::format_imf_fixdate(mtime, last_modified);
    uint64_t size = static_cast<uint64_t>(st.st_size);

    auto validators = [&](std::string& f) {
        f.append("ETag: \"").append(etag).append("\"\r\nLast-Modified: ").append(last_modified, 29).append("\r\n");
        if (!_cfg.cache_control.empty()) {
            f.append("Cache-Control: ").append(_cfg.cache_control).append("\r\n");
        }
        if (varies) {
            f.append("Vary: Accept-Encoding\r\n");
        }
    };

    // RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since (412); then If-None-Match,
    // else If-Modified-Since (304 for GET/HEAD); then If-Range and Range.
    bool failed = false;
    if (c.has_im) {
        failed = !etag_list_matches(c.if_match, etag, true);
    } else if (!c.if_unmodified_since.empty()) {
        std::time_t t = http::parse_http_date(c.if_unmodified_since);
        failed = t >= 0 && mtime > t;
    }
    if (failed) {
        ::close(fd);
        problem(out, 412, http::problem_precondition_failed);
        validators(out.fields);
        return;
    }
    bool not_modified = false;
    if (c.has_inm) {
        not_modified = etag_list_matches(c.if_none_match, etag, false);
    } else if (!c.if_modified_since.empty()) {
        std::time_t t = http::parse_http_date(c.if_modified_since);
        not_modified = t >= 0 && mtime <= t;
    }
    if (not_modified) {
        ::close(fd);
        out.status = 304;
        validators(out.fields);
        return;
    }

    uint64_t first = 0;
    uint64_t length = size;
    out.status = 200;
    out.fields.append("Content-Type: ").append(type).append("\r\n");
    if (coding != http::content_coding::identity) {
        out.fields.append("Content-Encoding: ").append(http::coding_name(coding)).append("\r\n");
    }
    validators(out.fields);
    out.fields.append("Accept-Ranges: bytes\r\n");
    if (c.has_range && head.method_id == http::method_get) { // §14.2: Range is for GET only
        bool range_applies = true;
        if (c.has_if_range) {
            std::string_view v = c.if_range;
            if (!v.empty() && (v.front() == '"' || v.starts_with("W/"))) {
                // §13.1.5: an entity-tag must match strongly (a weak one never does).
                range_applies = v.front() == '"' && v.size() == etag.size() + 2 && v.back() == '"' &&
                                v.substr(1, etag.size()) == etag;
            } else {
                range_applies = http::parse_http_date(v) == mtime; // a date must be the exact Last-Modified
            }
        }
        if (range_applies) {
            http::byte_range r = http::parse_byte_range(c.range, size);
            if (r.kind == http::range_kind::unsatisfiable) {
                ::close(fd);
                out.status = 416;
                out.fields.assign(http::problem_content_type).append("Content-Range: bytes */");
                append_dec(out.fields, size);
                out.fields.append("\r\n");
                validators(out.fields);
                out.body.assign(http::problem_range_not_satisfiable);
                return;
            }
            if (r.kind == http::range_kind::single) {
                first = r.first;
                length = r.length;
                out.status = 206;
                out.fields.append("Content-Range: bytes ");
                append_dec(out.fields, first);
                out.fields.push_back('-');
                append_dec(out.fields, first + length - 1);
                out.fields.push_back('/');
                append_dec(out.fields, size);
                out.fields.append("\r\n");
            }
        }
    }
    if (head_request) {
        ::close(fd);
        out.use_file = true; // the length is announced; nothing is read
        out.length = length;
        return;
    }
    if (length <= static_inline_max) {
        out.body.resize(length);
        size_t got = 0;
        while (got < length) {
            ssize_t n = ::pread(fd, out.body.data() + got, length - got, static_cast<off_t>(first + got));
            if (n <= 0) {
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                break;
            }
            got += static_cast<size_t>(n);
        }
        ::close(fd);
        if (got != length) [[unlikely]] {
            // The file shrank between fstat and read: what we have no longer matches the
            // validators we computed; the client may simply retry.
            problem(out, 503, http::problem_static_changed);
            out.fields.append("Retry-After: 0\r\n");
        }
        return;
    }
    out.use_file = true;
    out.file = std::make_shared<core::file_handle>(fd);
    out.offset = first;
    out.length = length;
}

} // namespace ringbolt::dispatch
