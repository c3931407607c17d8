// Static path sanitizing: percent-decoding per segment and the refusal rules.
#include "dispatch/static_path.hpp"

#include "http/char_classes.hpp"

namespace ringbolt::dispatch {

namespace {

// A byte that must never appear in a served name: separators of any platform, NUL and
// the other controls (no file the root holds legitimately needs them).
bool forbidden_byte(unsigned char c) noexcept {
    return c == '/' || c == '\\' || c < 0x20 || c == 0x7f;
}

} // namespace

static_path sanitize_static_path(std::string_view rest, bool dotfiles, std::string& out) {
    out.clear();
    static_path r;
    if (rest.empty()) {
        r.status = static_path_status::ok; // the mount itself, without its slash
        return r;
    }
    if (rest.front() != '/') {
        return r;
    }
    rest.remove_prefix(1);
    while (true) {
        size_t slash = rest.find('/');
        std::string_view seg = rest.substr(0, slash);
        bool last = slash == std::string_view::npos;
        if (seg.empty()) {
            if (last) {
                r.trailing_slash = true; // "/dir/" (or the mount's "/")
                break;
            }
            return r; // "a//b": an empty segment is never a name
        }
        if (!out.empty()) {
            out.push_back('/');
        }
        size_t seg_start = out.size();
        for (size_t i = 0; i < seg.size(); ++i) {
            unsigned char c = static_cast<unsigned char>(seg[i]);
            if (c == '%') {
                if (i + 2 >= seg.size()) {
                    r.status = static_path_status::bad_request; // '%' needs two hex digits
                    return r;
                }
                int h = http::chars::hex_value(static_cast<unsigned char>(seg[i + 1]));
                int l = http::chars::hex_value(static_cast<unsigned char>(seg[i + 2]));
                if (h < 0 || l < 0) {
                    r.status = static_path_status::bad_request;
                    return r;
                }
                c = static_cast<unsigned char>(h * 16 + l);
                i += 2;
            }
            if (forbidden_byte(c)) {
                return r;
            }
            out.push_back(static_cast<char>(c));
        }
        std::string_view name(out.data() + seg_start, out.size() - seg_start);
        if (name == "." || name == ".." || (!dotfiles && name.front() == '.')) {
            return r; // dot-segments never; hidden files (.env, .git) unless asked for
        }
        if (out.size() > max_static_path) {
            return r;
        }
        if (last) {
            break;
        }
        rest.remove_prefix(slash + 1);
    }
    r.status = static_path_status::ok;
    return r;
}

} // namespace ringbolt::dispatch
