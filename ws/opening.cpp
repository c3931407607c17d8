// The opening handshake check (RFC 6455 §4.2.1): which fields must be there and hold what.
#include "ws/opening.hpp"

#include "core/strings.hpp"
#include "http/problem.hpp"
#include "ws/handshake.hpp"

namespace ringbolt::ws {

namespace {

/// An Upgrade value (RFC 9110 §7.8) lists `protocol` (case-insensitive), with or without
/// a "/version" ("websocket" has none in practice).
bool lists_protocol(std::string_view value, std::string_view protocol) noexcept {
    while (!value.empty()) {
        std::string_view item = core::pop_list_element(value);
        if (core::iequals(item.substr(0, item.find('/')), protocol)) {
            return true;
        }
    }
    return false;
}

// Each refusal: its sentence, and the same sentence as the problem body's detail (both
// constants: a refused handshake allocates nothing).
struct refusal {
    std::string_view why;
    std::string_view problem;
};
#define RB_WS_REFUSAL(name, title, status, text)                                                                       \
    constexpr refusal name = {text, RINGBOLT_PROBLEM(title, status, text ".")}
RB_WS_REFUSAL(why_not_get, "Bad Request", 400, "a WebSocket handshake must be a GET (RFC 6455 section 4.1)");
RB_WS_REFUSAL(why_http10, "Bad Request", 400, "a WebSocket handshake needs HTTP/1.1 (RFC 6455 section 4.1)");
RB_WS_REFUSAL(why_no_host, "Bad Request", 400, "a WebSocket handshake needs a Host field (RFC 6455 section 4.1)");
RB_WS_REFUSAL(why_version, "Upgrade Required", 426,
              "unsupported Sec-WebSocket-Version: this server speaks version 13 (RFC 6455 section 4.4)");
RB_WS_REFUSAL(why_key, "Bad Request", 400, "Sec-WebSocket-Key must be the base64 of 16 bytes (RFC 6455 section 4.1)");
#undef RB_WS_REFUSAL

} // namespace

opening_check check_opening(const http::request_head& head) noexcept {
    opening_check out;
    if (!head.upgrade) [[likely]] {
        return out;
    }
    // RFC 8441 §5 (HTTP/2): the stream's extended CONNECT is the handshake, reported as a
    // GET with `upgrade` set and no Upgrade field; Sec-WebSocket-Key is not used there.
    bool on_stream = head.version_minor >= http::version_http2;
    std::string_view key, version;
    int keys = 0, versions = 0;
    bool websocket = on_stream;
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        const http::header_field& f = head.headers[i];
        if (core::iequals(f.name, "upgrade")) {
            websocket = websocket || lists_protocol(f.value, "websocket");
        } else if (core::iequals(f.name, "sec-websocket-key")) {
            key = core::trim_ows(f.value);
            ++keys;
        } else if (core::iequals(f.name, "sec-websocket-version")) {
            version = core::trim_ows(f.value);
            ++versions;
        }
    }
    if (!websocket) {
        return out; // another protocol (h2c...): not ours to switch to; served as plain HTTP
    }
    if (head.method_id != http::method_get) {
        out.status = opening_status::bad_request;
        out.why = why_not_get.why;
        out.problem = why_not_get.problem;
    } else if (head.version_minor < 1) {
        out.status = opening_status::bad_request;
        out.why = why_http10.why;
        out.problem = why_http10.problem;
    } else if (head.host.empty()) {
        out.status = opening_status::bad_request;
        out.why = why_no_host.why;
        out.problem = why_no_host.problem;
    } else if (versions != 1 || version != "13") {
        out.status = opening_status::bad_version;
        out.why = why_version.why;
        out.problem = why_version.problem;
    } else if (!on_stream && (keys != 1 || !valid_key(key))) {
        out.status = opening_status::bad_request;
        out.why = why_key.why;
        out.problem = why_key.problem;
    } else {
        out.status = opening_status::valid;
        out.key = key;
    }
    return out;
}

opening_refusal refusal_of(const opening_check& check, bool websocket_only) noexcept {
    static constexpr std::string_view bad_version_fields =
        "Content-Type: application/problem+json\r\nSec-WebSocket-Version: 13\r\n";
    static constexpr std::string_view upgrade_fields =
        "Content-Type: application/problem+json\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    static_assert(bad_version_fields.starts_with(http::problem_content_type) &&
                  upgrade_fields.starts_with(http::problem_content_type));
    if (check.status == opening_status::bad_version) {
        return {426, bad_version_fields, check.problem};
    }
    if (check.status == opening_status::bad_request) {
        return {400, http::problem_content_type, check.problem};
    }
    if (websocket_only) {
        return {426, upgrade_fields, http::problem_websocket_only};
    }
    return {};
}

} // namespace ringbolt::ws
