// The extension table (sorted, binary-searched) behind content_type_for.
#include "http/mime_types.hpp"

#include "core/strings.hpp"

#include <algorithm>
#include <array>

namespace ringbolt::http {

namespace {

struct mime_entry {
    std::string_view ext; ///< lower case, without the dot
    std::string_view type;
};

// Sorted by `ext` (checked by the static_assert below).
constexpr std::array<mime_entry, 56> table = {{
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"avif", "image/avif"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/bmp"},
    {"br", "application/x-brotli"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"eot", "application/vnd.ms-fontobject"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar; charset=utf-8"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"toml", "application/toml"},
    {"ts", "video/mp2t"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
}};

constexpr bool sorted() {
    for (size_t i = 1; i < table.size(); ++i) {
        if (!(table[i - 1].ext < table[i].ext)) {
            return false;
        }
    }
    return true;
}
static_assert(sorted(), "mime table must be sorted by extension");

} // namespace

std::string_view content_type_for(std::string_view file_name) noexcept {
    constexpr std::string_view fallback = "application/octet-stream";
    size_t slash = file_name.rfind('/');
    std::string_view base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
    size_t dot = base.rfind('.');
    if (dot == std::string_view::npos || dot + 1 >= base.size() || base.size() - dot - 1 > 16) {
        return fallback;
    }
    char lower[16];
    std::string_view ext = base.substr(dot + 1);
    for (size_t i = 0; i < ext.size(); ++i) {
        lower[i] = core::ascii_lower(ext[i]);
    }
    std::string_view key(lower, ext.size());
    auto it = std::lower_bound(table.begin(), table.end(), key,
                               [](const mime_entry& e, std::string_view k) { return e.ext < k; });
    if (it != table.end() && it->ext == key) {
        return it->type;
    }
    return fallback;
}

} // namespace ringbolt::http
