#include "http/kept_head.hpp"

#include <cassert>
#include <functional>

namespace ringbolt::http {

kept_head::span kept_head::span_of(std::string_view v, std::string_view bytes) noexcept {
    // Every view the parser makes points into its buffer (parser.hpp); an empty one may
    // point nowhere, and comes back empty.
    std::less_equal<const char*> le;
    if (v.data() == nullptr || !le(bytes.data(), v.data()) || !le(v.data() + v.size(), bytes.data() + bytes.size())) {
        assert(v.empty());
        return {none, 0};
    }
    return {static_cast<uint32_t>(v.data() - bytes.data()), static_cast<uint32_t>(v.size())};
}

std::string_view kept_head::view_of(span s, std::string_view bytes) noexcept {
    return s.offset == none ? std::string_view{} : std::string_view(bytes.data() + s.offset, s.length);
}

void kept_head::keep(const request_head& head, std::string_view bytes) {
    bytes = bytes.substr(0, head.head_bytes);
    _spans.resize(at_fields + size_t{head.num_headers} * 2);
    _spans[at_method] = span_of(head.method, bytes);
    _spans[at_target] = span_of(head.target, bytes);
    _spans[at_path] = span_of(head.path, bytes);
    _spans[at_query] = span_of(head.query, bytes);
    _spans[at_host] = span_of(head.host, bytes);
    for (size_t i = 0; i < head.num_headers; ++i) {
        _spans[at_fields + 2 * i] = span_of(head.headers[i].name, bytes);
        _spans[at_fields + 2 * i + 1] = span_of(head.headers[i].value, bytes);
    }
    _content_length = head.content_length;
    _head_bytes = static_cast<uint32_t>(head.head_bytes);
    _method_id = head.method_id;
    _version_minor = head.version_minor;
    _body = head.body;
    _keep_alive = head.keep_alive;
    _expect_continue = head.expect_continue;
    _upgrade = head.upgrade;
}

void kept_head::restore(std::string_view bytes, request_head& out) const noexcept {
    assert(bytes.size() >= _head_bytes && _spans.size() >= at_fields);
    out.method = view_of(_spans[at_method], bytes);
    out.target = view_of(_spans[at_target], bytes);
    out.path = view_of(_spans[at_path], bytes);
    out.query = view_of(_spans[at_query], bytes);
    out.host = view_of(_spans[at_host], bytes);
    const size_t n = (_spans.size() - at_fields) / 2;
    for (size_t i = 0; i < n; ++i) {
        out.headers[i].name = view_of(_spans[at_fields + 2 * i], bytes);
        out.headers[i].value = view_of(_spans[at_fields + 2 * i + 1], bytes);
    }
    out.num_headers = static_cast<uint16_t>(n);
    out.content_length = _content_length;
    out.head_bytes = _head_bytes;
    out.method_id = _method_id;
    out.version_minor = _version_minor;
    out.body = _body;
    out.keep_alive = _keep_alive;
    out.expect_continue = _expect_continue;
    out.upgrade = _upgrade;
}

void kept_head::release() noexcept {
    std::vector<span>().swap(_spans);
    _head_bytes = 0;
}

} // namespace ringbolt::http
