#include "core/code_pages.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <sys/mman.h>
#include <vector>

namespace ringbolt::core::code_pages {

namespace {

// The libraries the extension links that CPython and its standard modules do not load
// (libssl, libcrypto, libz and libgcc_s are theirs too: those are left as they are).
// HTTP/3's load when it starts, after the release.
constexpr std::array<std::string_view, 7> library_names = {
    "libstdc++.so",    "libsimdjson.so",     "liburing.so",   "libzstd.so",
    "libbrotlienc.so", "libbrotlicommon.so", "libnghttp2.so",
};

struct mapping {
    uintptr_t start = 0;
    uintptr_t end = 0;
    bool writable = true;
    size_t anonymous_kb = 0;
    std::string path;
};

size_t release_one(const mapping& m) noexcept {
    if (m.writable || m.anonymous_kb != 0 || m.end <= m.start) {
        return 0;
    }
    void* at = reinterpret_cast<void*>(m.start);
    size_t len = m.end - m.start;
    (void)madvise(at, len, MADV_RANDOM); // a page read from the file again comes without readahead
    return madvise(at, len, MADV_DONTNEED) == 0 ? len : 0;
}

} // namespace

bool releasable(std::string_view path, std::string_view own) noexcept {
    if (path.empty()) {
        return false;
    }
    if (!own.empty() && path == own) {
        return true;
    }
    size_t slash = path.rfind('/');
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    for (std::string_view lib : library_names) {
        if (name.starts_with(lib)) {
            return true;
        }
    }
    return false;
}

size_t release(const void* inside) noexcept {
    FILE* f = std::fopen("/proc/self/smaps", "re");
    if (f == nullptr) {
        return 0;
    }
    // Read whole first, then advise: smaps walks the very mappings madvise changes.
    std::vector<mapping> maps;
    bool partial = false; // the line read so far did not end (a longer one than the buffer)
    char line[4096];
    try {
        while (std::fgets(line, sizeof line, f) != nullptr) {
            bool continued = partial;
            size_t len = std::strlen(line);
            partial = len > 0 && line[len - 1] != '\n';
            if (continued) {
                continue;
            }
            // A mapping's first line starts with its address (lower-case hex); its fields
            // ("Rss:", "Anonymous:") with an upper-case name.
            if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
                unsigned long start = 0;
                unsigned long end = 0;
                char perms[5] = {};
                int path_at = 0;
                if (std::sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3) {
                    continue;
                }
                std::string_view path = path_at > 0 ? std::string_view(line + path_at) : std::string_view();
                while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) {
                    path.remove_suffix(1);
                }
                maps.push_back(mapping{start, end, perms[1] == 'w', 0, std::string(path)});
            } else if (!maps.empty() && std::strncmp(line, "Anonymous:", 10) == 0) {
                maps.back().anonymous_kb = std::strtoul(line + 10, nullptr, 10);
            }
        }
    } catch (const std::bad_alloc&) {
        maps.clear();
    }
    std::fclose(f);
    std::string_view own;
    auto at = reinterpret_cast<uintptr_t>(inside);
    for (const mapping& m : maps) {
        if (m.start <= at && at < m.end) {
            own = m.path;
        }
    }
    size_t released = 0;
    for (const mapping& m : maps) {
        if (releasable(m.path, own)) {
            released += release_one(m);
        }
    }
    return released;
}

} // namespace ringbolt::core::code_pages
