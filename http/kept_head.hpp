// A parsed request head kept past the read it came in. While its body arrives over later
// reads, the head's bytes move (a tail that grows into a larger buffer, a copy), so its
// views are kept as offsets from the head's first byte and laid back over the bytes
// wherever they are then: a head is parsed once, whatever the read boundaries.
// Only the fields the request has are kept (not request_head's fixed 128, 4 KB): a
// connection holds a few bytes per field, and nothing once released.
#pragma once

#include "http/parser.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace ringbolt::http {

class kept_head {
  public:
    /// Keep `head`, whose views all point into `bytes` (the head as it was parsed, from its
    /// first byte: `head.head_bytes` long).
    void keep(const request_head& head, std::string_view bytes);
    /// The kept head again in `out`, its views over `bytes`: the same head bytes, wherever
    /// they are now (at least `head_bytes()` long).
    void restore(std::string_view bytes, request_head& out) const noexcept;
    /// Bytes of the kept head, including its final CRLF.
    size_t head_bytes() const noexcept { return _head_bytes; }
    /// Frees what the fields took (a closed connection).
    void release() noexcept;

  private:
    /// A view as an offset into the head; `none` for a view pointing nowhere (empty, null).
    struct span {
        uint32_t offset;
        uint32_t length;
    };
    static constexpr uint32_t none = UINT32_MAX;

    static span span_of(std::string_view v, std::string_view bytes) noexcept;
    static std::string_view view_of(span s, std::string_view bytes) noexcept;
    /// The head's views in `_spans`, in this order, then each field's name and value.
    enum : size_t { at_method, at_target, at_path, at_query, at_host, at_fields };

    std::vector<span> _spans; ///< (one vector: the connection's size counts, sizeof(http1_connection))
    uint64_t _content_length = 0;
    uint32_t _head_bytes = 0;
    uint16_t _method_id = 0;
    uint8_t _version_minor = 1;
    body_kind _body = body_kind::none;
    bool _keep_alive = true;
    bool _expect_continue = false;
    bool _upgrade = false;
};

} // namespace ringbolt::http
