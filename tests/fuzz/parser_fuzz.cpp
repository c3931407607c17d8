// libFuzzer target for http/parser.cpp: parses the input under default and tiny limits,
// checks that every string_view lies inside the input and that parsing prefixes (as a
// connection does while bytes arrive) gives "incomplete" or exactly the one-shot result.
#include "http/parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

using namespace ringbolt::http;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

bool inside(std::string_view v, std::string_view buf) {
    return v.empty() || (v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size());
}

void check_head(const request_head& h, const parse_outcome& o, std::string_view buf, const parser_limits& limits) {
    check(o.consumed <= buf.size() && o.consumed == h.head_bytes);
    check(o.consumed >= 4 && std::memcmp(buf.data() + o.consumed - 4, "\r\n\r\n", 4) == 0);
    check(has_head_end(buf.substr(0, o.consumed), 0));
    check(o.consumed <= limits.max_head_bytes);
    check(h.num_headers <= limits.max_headers && h.num_headers <= max_header_fields);
    check(!h.method.empty() && !h.target.empty() && !h.path.empty());
    check(inside(h.method, buf) && inside(h.target, buf) && inside(h.host, buf));
    check(inside(h.path, h.target) && inside(h.query, h.target));
    check(h.version_minor <= 1);
    check(h.method_id != 0 && (h.method_id & (h.method_id - 1)) == 0);
    for (size_t i = 0; i < h.num_headers; ++i) {
        check(!h.headers[i].name.empty() && inside(h.headers[i].name, buf) && inside(h.headers[i].value, buf));
    }
    if (h.body == body_kind::content_length) {
        check(h.content_length > 0);
    }
}

bool same_head(const request_head& a, const request_head& b) {
    if (a.method != b.method || a.method_id != b.method_id || a.target != b.target || a.path != b.path ||
        a.query != b.query || a.version_minor != b.version_minor || a.num_headers != b.num_headers ||
        a.body != b.body || a.keep_alive != b.keep_alive || a.expect_continue != b.expect_continue ||
        a.upgrade != b.upgrade || a.host != b.host || a.head_bytes != b.head_bytes) {
        return false;
    }
    if (a.body == body_kind::content_length && a.content_length != b.content_length) {
        return false;
    }
    for (size_t i = 0; i < a.num_headers; ++i) {
        if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) {
            return false;
        }
    }
    return true;
}

void run(std::string_view buf, const parser_limits& limits) {
    static request_head full_head;
    static request_head part_head;
    const parse_outcome full = parse_request_head(buf, full_head, limits);
    if (full.status == parse_status::complete) {
        check_head(full_head, full, buf, limits);
    } else if (full.status == parse_status::error) {
        check(full.error != http_error::none);
    }
    // All prefixes for small inputs, a stride through longer ones (keeps it ~linear).
    const size_t step = buf.size() <= 512 ? 1 : buf.size() / 256;
    for (size_t k = 0; k < buf.size(); k += step) {
        // An exact-size copy so ASan flags any read past the prefix.
        std::unique_ptr<char[]> copy(new char[k == 0 ? 1 : k]);
        std::memcpy(copy.get(), buf.data(), k);
        const std::string_view prefix(copy.get(), k);
        const parse_outcome r = parse_request_head(prefix, part_head, limits);
        if (full.status == parse_status::complete && k < full.consumed) {
            check(r.status == parse_status::incomplete);
            continue;
        }
        if (r.status == parse_status::incomplete) {
            continue;
        }
        check(r.status == full.status && r.error == full.error && r.consumed == full.consumed);
        if (r.status == parse_status::complete) {
            // Same head, just views into a different copy: compare by content.
            check(same_head(part_head, full_head));
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // An exact-size heap copy so the replay build also catches over-reads.
    std::unique_ptr<char[]> copy(new char[size == 0 ? 1 : size]);
    if (size != 0) {
        std::memcpy(copy.get(), data, size);
    }
    const std::string_view buf(copy.get(), size);
    run(buf, parser_limits{});
    run(buf, parser_limits{.max_request_line = 24, .max_head_bytes = 96, .max_headers = 3});
    return 0;
}
