// libFuzzer target for the static file server's parsers of untrusted input:
// dispatch/static_path (the traversal wall), http/byte_range, http/accept_encoding and
// http/http_date. Checks the invariants that make traversal impossible.
#include "dispatch/static_path.hpp"
#include "http/accept_encoding.hpp"
#include "http/byte_range.hpp"
#include "http/http_date.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace ringbolt::dispatch;
using namespace ringbolt::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string out;
    for (bool dotfiles : {false, true}) {
        static_path r = sanitize_static_path(input, dotfiles, out);
        if (r.status == static_path_status::ok) {
            // Never absolute, never a NUL/backslash/control byte, never an empty, "." or
            // ".." segment, never a hidden name unless asked for.
            if (!out.empty() && (out.front() == '/' || out.back() == '/')) {
                std::abort();
            }
            for (char c : out) {
                unsigned char u = static_cast<unsigned char>(c);
                if (u == '\\' || u < 0x20 || u == 0x7f) {
                    std::abort();
                }
            }
            size_t start = 0;
            while (!out.empty() && start <= out.size()) {
                size_t slash = out.find('/', start);
                std::string_view seg = std::string_view(out).substr(start, slash - start);
                if (seg.empty() || seg == "." || seg == ".." || (!dotfiles && seg.front() == '.')) {
                    std::abort();
                }
                if (slash == std::string::npos) {
                    break;
                }
                start = slash + 1;
            }
            if (out.size() > max_static_path) {
                std::abort();
            }
        }
    }
    for (uint64_t sz : {uint64_t{0}, uint64_t{1}, uint64_t{4096}, uint64_t{1} << 40}) {
        byte_range r = parse_byte_range(input, sz);
        if (r.kind == range_kind::single && (r.length == 0 || r.first >= sz || r.first + r.length > sz)) {
            std::abort();
        }
    }
    accept_encoding a;
    if (parse_accept_encoding(input, a)) {
        for (int16_t q : a.q) {
            if (q > 1000 || q < accept_encoding::unset) {
                std::abort();
            }
        }
        const content_coding only_gzip[] = {content_coding::gzip};
        content_coding c = choose_coding(a, only_gzip);
        if (c != content_coding::identity && c != content_coding::gzip) {
            std::abort();
        }
    }
    (void)parse_http_date(input);
    return 0;
}
