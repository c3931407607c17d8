// What the dispatcher hands to the application (Python): a request copied out of the
// receive buffers into one owned string with offsets into it. Copying here is what
// lets receive buffers go back to the ring as soon as they are parsed. What comes back
// (app_response messages) is http/app_message.hpp, which the protocols frame.
#pragma once

#include "core/proxy_info.hpp"
#include "core/tls_info.hpp"
#include "dispatch/router.hpp"
#include "http/app_message.hpp"
#include "http/body_buffers.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::dispatch {

/// Spare capacity after app_request::data so a JSON parser (simdjson) can read the
/// body in place, without copying it into a padded buffer.
inline constexpr size_t app_request_padding = http::request_body_padding;

struct span32 {
    uint32_t off = 0;
    uint32_t len = 0;
    std::string_view in(const std::string& s) const noexcept { return {s.data() + off, len}; }
};

struct app_param {
    param_type type;
    span32 raw;
    int64_t int_value;
};

/// Everything of an app_request but its route parameters, which follow it
/// (app_request::params): a request without them touches only these lines.
struct app_request_fields {
    /// User-provided, so that `emplace_back()` does not zero the struct (value
    /// initialisation of a defaulted constructor does) before the members' initialisers run.
    app_request_fields() noexcept {}

    // Where the response goes.
    uint32_t conn_slot = 0;
    uint32_t conn_gen = 0;
    uint64_t seq = 0;
    uint32_t handler = 0;  ///< index of the application's handler
    uint32_t route_id = 0; ///< router id (metrics label)
    uint64_t start_ns = 0; ///< when the request was complete (0: not timed)

    std::string data; ///< request head bytes, then the (decoded) body
    span32 method, target, path, query, body;
    uint16_t method_id = 0;
    uint8_t version_minor = 1;
    bool keep_alive = true;
    bool head_request = false;
    bool websocket = false;      ///< a valid WebSocket opening handshake (RFC 6455 §4.2.1) for a route that takes them
    bool https = false;          ///< a trusted proxy says the original request was https
    uint8_t num_params = 0;      ///< app_request::params[0..num_params) are set
    std::vector<span32> headers; ///< name, value, name, value, ...
    std::shared_ptr<http::body_stream> streamed_body; ///< set when the body arrives after the request
    std::shared_ptr<http::body_stream> watch;         ///< fails (disconnect) when the client leaves first; else null
    http::peer_address peer; ///< the client: the connection's peer, or what a trusted proxy says
    span32 forwarded_host;   ///< a trusted proxy's original Host (len 0: none), in `data` after the body
    span32 request_id;       ///< enable_request_id: the request's id (len 0: off), in `data` after the body
    /// The connection's TLS facts, shared by its requests (null: plain TCP).
    core::tls_ref tls;
    /// What the connection's load balancer said in its PROXY header (null: none).
    core::proxy_ref proxy;
};

/// A request as the application gets it. Its route parameters come last and only the
/// first `num_params` are written, moved or copied: the usual request (none) is written
/// by the dispatcher and moved by a detach (pymod/native/bridge) in the lines of
/// app_request_fields alone, not in the 384 bytes of the parameters' room (issue 29: at
/// thousands of connections each line is a last-level miss).
struct app_request : app_request_fields {
    app_request() noexcept {}
    app_request(app_request&& o) noexcept : app_request_fields(std::move(o)) { copy_params(o); }
    app_request& operator=(app_request&& o) noexcept {
        app_request_fields::operator=(std::move(o));
        copy_params(o);
        return *this;
    }
    app_request(const app_request& o) : app_request_fields(o) { copy_params(o); }
    app_request& operator=(const app_request& o) {
        app_request_fields::operator=(o);
        copy_params(o);
        return *this;
    }
    /// A large body's buffer is kept for the next one (http/body_buffers.hpp).
    ~app_request() { http::give_body_buffer(std::move(data)); }

    /// Route parameters: `type` and `int_value` are read only below num_params.
    app_param params[max_route_params];

  private:
    void copy_params(const app_request& o) noexcept {
        for (uint8_t i = 0; i < o.num_params; ++i) {
            params[i] = o.params[i];
        }
    }
};

} // namespace ringbolt::dispatch
