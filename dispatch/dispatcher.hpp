// The runtime's side of a request: route it, answer what is native (const routes,
// metrics, health probes, 404/405, the admission 503) through the protocol, and hand the
// rest to the application in the reactor's batch. One per reactor; protocols only see
// the http::dispatcher interface.
#pragma once

#include "core/counters.hpp"
#include "core/histogram.hpp"
#include "dispatch/app_request.hpp"
#include "dispatch/app_routes.hpp"
#include "http/protocol.hpp"

#include <atomic>
#include <memory>
#include <vector>

namespace ringbolt::dispatch {

/// Makes the application's receiving end of a streamed request body.
class body_stream_factory {
  public:
    virtual ~body_stream_factory() = default;
    virtual std::shared_ptr<http::body_stream> make_body_stream(uint32_t slot, uint32_t gen, uint64_t seq) = 0;
};

class request_dispatcher final : public http::dispatcher {
  public:
    request_dispatcher(const app_routes& routes, const metrics_source* metrics, std::atomic<uint32_t>* app_pending,
                       uint32_t app_limit, core::latency_histogram* route_latency,
                       body_stream_factory* streams = nullptr)
        : _routes(routes), _metrics(metrics), _app_pending(app_pending), _app_limit(app_limit),
          _route_latency(route_latency), _streams(streams) {
        _spare_data.reserve(spare_limit); // recycle_batch never allocates
        _spare_headers.reserve(spare_limit);
        if (routes.features != nullptr && routes.features->compression.enabled && !routes.statics.empty()) {
            // Static files go as stored: the same features, compression off (see serve_static).
            _stored_features = std::make_unique<http::response_features>(*routes.features);
            _stored_features->compression.enabled = false;
        }
    }

    verdict on_request(http::protocol& conn, const http::request_event& ev, http::protocol_env& env,
                       std::shared_ptr<http::body_stream>& stream) override;
    void on_refused(const http::refused_request& r) noexcept override;

    /// Requests for the application gathered this loop turn.
    std::vector<app_request>& batch() noexcept { return _batch; }

    /// Empty the batch once its requests are answered, keeping their buffers (the
    /// head-and-body bytes, the header spans) for the next requests: a request handed
    /// to the application then costs no allocation once the first turns have run. A
    /// request the application kept was moved out already, the buffers of an earlier kept
    /// one left in its place (request_object.cpp's detach); at most spare_limit buffers of
    /// at most spare_capacity bytes are kept.
    void recycle_batch() noexcept;

  private:
    void serve_static(const static_mount& mount, http::protocol& conn, const http::request_event& ev,
                      http::protocol_env& env, std::string_view request_id);
    bool admit(rate_limiter& limit, http::protocol& conn, const http::request_event& ev, http::protocol_env& env,
               std::string_view request_id);

    const app_routes& _routes;
    const metrics_source* _metrics;
    std::atomic<uint32_t>* _app_pending;     ///< requests handed to the app, process-wide
    uint32_t _app_limit;                     ///< above this many pending: 503 (0 = no limit)
    core::latency_histogram* _route_latency; ///< per route id, when metrics are on
    body_stream_factory* _streams;           ///< null: bodies are always read whole
    std::vector<app_request> _batch;
    static constexpr size_t spare_limit = 256;
    static constexpr size_t spare_capacity = 4096;
    /// A new app_request::data buffer is at least this large (a head of a few hundred
    /// bytes and a small body), so a spare one fits the next requests of other sizes.
    static constexpr size_t fresh_data_min = 1024;
    std::vector<std::string> _spare_data;            ///< app_request::data buffers, cleared
    std::vector<std::vector<span32>> _spare_headers; ///< app_request::headers buffers, cleared
    std::string _rate_key;                           ///< reused: a rate-limited request's key
    static_answer _static;                           ///< reused: a static answer allocates nothing once warm
    /// The app's response features without compression (null when it compresses nothing
    /// or serves no static files): what a static answer goes out with.
    std::unique_ptr<http::response_features> _stored_features;
};

/// A request the application kept past its batch (every async handler's and ASGI app's:
/// app_bridge detaches it for the loop) that dies when the bridge's own kept requests are
/// at their bound (request_object.cpp) gives its buffers back, into a list of the thread it
/// dies on; a dispatcher whose own spares (recycle_batch) ran out takes
/// from its thread's list. With the hosted loop both are the reactor's thread, so such a
/// request allocates nothing for its copy once warm. A loop on a thread of its own fills
/// its list up to the bound and keeps it (at most 256 buffers of each kind, 4 KiB each).
void return_request_buffers(app_request& r) noexcept;

} // namespace ringbolt::dispatch
