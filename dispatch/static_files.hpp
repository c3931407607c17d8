// Static files served natively: a mount maps a URL prefix to a directory and answers
// GET/HEAD under it with no Python per request: content types, validators (ETag,
// Last-Modified) and conditional requests (304, 412), byte ranges (206, 416),
// precompressed siblings (.zst, .br, .gz) chosen by Accept-Encoding, index files.
// Every file is opened beneath the root (openat2 RESOLVE_BENEATH, or a realpath check
// where openat2 is missing), after static_path refused traversal tricks.
#pragma once

#include "core/output_queue.hpp"
#include "http/accept_encoding.hpp"
#include "http/parser.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace ringbolt::dispatch {

struct static_config {
    std::string prefix;               ///< URL prefix: "/assets" (no trailing '/'); "" mounts at "/"
    std::string directory;            ///< the root on disk
    std::string index = "index.html"; ///< served for "<dir>/"; empty: directories are 404
    std::string cache_control;        ///< Cache-Control value for 200/206/304 (empty: none)
    bool precompressed = true;        ///< look for .zst/.br/.gz siblings of compressible types
    bool dotfiles = false;            ///< serve names starting with '.' (else 404)
};

/// A static answer: status and header lines (no framing), and the body as bytes
/// (small files, error texts) or as a file range (sent with sendfile).
struct static_answer {
    uint16_t status = 404;
    std::string fields;                      ///< "Name: value\r\n" lines
    std::string body;                        ///< when !use_file
    bool use_file = false;                   ///< the body is `file` from `offset`, `length` bytes
    std::shared_ptr<core::file_handle> file; ///< null for HEAD (only the length is announced)
    uint64_t offset = 0;
    uint64_t length = 0;
};

/// Files up to this size are read into the response (one send for head and body);
/// larger ones go out with sendfile() (the head sent with MSG_MORE: still one packet).
/// Where the two cost the same, measured per file on loopback: copying a body into the
/// response and then into the socket costs more than sendfile's page references from
/// about 4 KiB on (benchmarks/journal/2026-11-26.md, "static: where the µs go").
inline constexpr uint64_t static_inline_max = 4 * 1024;

class static_mount {
  public:
    /// Opens the root directory; null and `error` set when it cannot be served.
    static std::unique_ptr<static_mount> open(static_config cfg, std::string& error);
    ~static_mount();
    static_mount(const static_mount&) = delete;
    static_mount& operator=(const static_mount&) = delete;

    const static_config& config() const noexcept { return _cfg; }
    /// The raw request path is the prefix itself or below it ("/assets", "/assets/...").
    bool covers(std::string_view path) const noexcept {
        const std::string& p = _cfg.prefix;
        return path.size() >= p.size() && path.compare(0, p.size(), p) == 0 &&
               (path.size() == p.size() || path[p.size()] == '/');
    }
    /// Answer `head` (whose path this mount covers). `head_request`: a HEAD (no body read).
    void serve(const http::request_head& head, bool head_request, static_answer& out) const;

  private:
    explicit static_mount(static_config cfg) : _cfg(std::move(cfg)) {}
    int open_beneath(const std::string& rel) const noexcept; ///< fd or -1 (errno set)
    /// The precompressed sibling of `rel` (whose Content-Type is `type`) to serve for
    /// `accept` (.zst/.br/.gz, the client's choice among those that exist as regular
    /// files): its fd, `st` and `coding` set; -1 when none (not precompressed, not a
    /// compressible type, none acceptable or present).
    int open_sibling(const std::string& rel, std::string_view type, const http::accept_encoding& accept,
                     struct stat& st, http::content_coding& coding) const;

    static_config _cfg;
    int _root = -1;
    std::string _root_real; ///< realpath of the root (the fallback's check)
};

/// Which guard opens files: "openat2" (RESOLVE_BENEATH) or "realpath" (the fallback).
/// Probed once (the first mount opened); logged once.
std::string_view static_open_method() noexcept;

} // namespace ringbolt::dispatch
