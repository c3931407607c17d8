// The application's routes as the reactors see them: the route table plus, per
// handler id, whether it is answered natively (pre-serialized) or by Python.
// Built once before the reactors start; read-only (shared) afterwards.
#pragma once

#include "dispatch/health_state.hpp"
#include "dispatch/proxy_headers.hpp"
#include "dispatch/rate_limit.hpp"
#include "dispatch/router.hpp"
#include "dispatch/static_files.hpp"
#include "http/problem.hpp"
#include "http/response_features.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringbolt::dispatch {

/// The answers the router gives itself when no route takes a request, in the app's
/// conventions: ringbolt's RFC 9457 problems, or FastAPI's (Starlette's) `{"detail": ...}`.
struct native_errors {
    std::string_view content_type; ///< the Content-Type field line
    std::string_view not_found;
    std::string_view method_not_allowed;
};
inline constexpr native_errors problem_errors{http::problem_content_type, http::problem_not_found,
                                              http::problem_method_not_allowed};
inline constexpr native_errors detail_errors{http::detail_content_type, http::detail_not_found,
                                             http::detail_method_not_allowed};

/// How the router answers a CORS preflight, in the app's conventions: ringbolt's 204 and
/// 403 problem, or Starlette's CORSMiddleware's 200 "OK" and 400 "Disallowed CORS ..."
/// (text/plain).
struct preflight_answers {
    uint16_t allowed_status;
    std::string_view allowed_fields; ///< "Name: value\r\n" lines
    std::string_view allowed_body;
    bool starlette_refusals; ///< 400 with http::preflight_refusal_text, else 403 problem+json
};
inline constexpr preflight_answers ringbolt_preflight{204, {}, {}, false};
inline constexpr preflight_answers starlette_preflight{200, "Content-Type: text/plain; charset=utf-8\r\n", "OK", true};

struct native_response {
    uint16_t status = 200;
    std::string headers; ///< "Name: value\r\n" lines (validated), without Content-Length
    std::string body;
};

enum class target_kind : uint8_t {
    python,  ///< a Python handler
    native,  ///< a pre-serialized response (const routes)
    metrics, ///< the Prometheus text of the server's counters, rendered natively
    health,  ///< a health probe: app_routes::health's answer for `probe`
};

struct route_target {
    target_kind kind = target_kind::python;
    uint32_t handler = 0;            ///< Python handler index (when python)
    bool streams_body = false;       ///< python: large or chunked bodies are streamed to it (async handlers)
    bool watches_disconnect = false; ///< python: told when the client leaves before the answer (ASGI)
    bool websocket = false;          ///< python: WebSocket handshakes go to it (checked first, RFC 6455 §4.2.1)
    bool websocket_only = false;     ///< python: a WebSocket endpoint: a plain request gets 426 Upgrade Required
    native_response response;        ///< when native
    std::string pattern;             ///< as registered, for metrics labels
    /// When health: which probe this route answers.
    probe_kind probe = probe_kind::live;
    /// Methods outside the parser's known set (PROPFIND, REPORT, ...) this route takes;
    /// the table stores them as method_other, so the dispatcher checks the name.
    std::vector<std::string> other_methods;
    /// Its rate limit (app.rate_limit, a route's rate_limit=; owned by
    /// app_routes::rate_limits), checked before anything else answers; null: none.
    rate_limiter* rate_limit = nullptr;
};

/// Renders the metrics page (implemented by the server, which sees every core).
class metrics_source {
  public:
    virtual ~metrics_source() = default;
    virtual void render(std::string& out) const = 0;
};

inline constexpr uint32_t no_fallback = UINT32_MAX;

struct app_routes {
    route_table table;
    std::vector<route_target> targets; ///< indexed by the router's handler id
    /// A target for every request the table does not match (any path, any method):
    /// an ASGI or WSGI application is one. Index into `targets`, or no_fallback.
    uint32_t fallback = no_fallback;
    /// --proxy-headers: requests from these peers take their client, scheme and host
    /// from the forwarding headers (empty: proxy headers are off).
    trusted_proxies proxies;
    /// Compression, CORS, request ids, security headers (null: the app enables none,
    /// and the dispatcher does nothing more per request).
    std::unique_ptr<http::response_features> features;
    /// Static file mounts (app.static), in registration order: a path no route matches
    /// goes to the first mount whose prefix covers it, before the fallback.
    std::vector<std::unique_ptr<static_mount>> statics;
    /// The health probes' state (app.health; null when the app has no probes). While it
    /// says not started, what would go to Python is answered 503 natively instead.
    std::shared_ptr<health_state> health;
    /// The rate limits the targets point to, in the order they were configured (their
    /// tables are carved from one shared memory in that order: rate_limit.hpp).
    std::vector<std::unique_ptr<rate_limiter>> rate_limits;
    /// 404 and 405 bodies (App(conventions=...)).
    const native_errors* errors = &problem_errors;
    /// CORS preflight answers (App(conventions=...)).
    const preflight_answers* preflight = &ringbolt_preflight;
    /// A path no route takes whose twin with the trailing slash toggled (/items and
    /// /items/) a route takes, for any method, answers 307 to the twin (Starlette's
    /// redirect_slashes; FastAPI's conventions).
    bool redirect_slashes = false;
};

} // namespace ringbolt::dispatch
