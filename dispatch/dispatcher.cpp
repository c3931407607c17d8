// Routing and native answers for one request; the hand-off copies head and body into
// one owned app_request so receive buffers go back to the ring at once.
#include "dispatch/dispatcher.hpp"

#include "core/clock.hpp"
#include "core/kept_stack.hpp"
#include "core/strings.hpp"
#include "dispatch/access_log.hpp"
#include "http/method_names.hpp"
#include "http/problem.hpp"
#include "http/response_features.hpp"
#include "ws/opening.hpp"

#include <algorithm>
#include <string>
#include <type_traits>

namespace ringbolt::dispatch {

namespace {

span32 span_of(std::string_view part, const char* base) noexcept {
    return {static_cast<uint32_t>(part.data() - base), static_cast<uint32_t>(part.size())};
}

// The access-log line of an answer the runtime gave itself.
void log_answer(const http::request_event& ev, uint16_t status, size_t body_bytes,
                std::string_view request_id = {}) noexcept {
    if (access_log_enabled()) [[unlikely]] {
        write_access_log({&ev.peer, ev.head.method, ev.head.target, ev.head.version_minor, status,
                          static_cast<int64_t>(body_bytes), 0, request_id});
    }
}

// The buffers of requests the application kept past their batch, given back when they
// die (return_request_buffers), kept per thread (core/kept_stack.hpp) for the requests it
// dispatches next. Released at the thread's exit: a request that dies on a thread being
// torn down frees its buffers at once.
constexpr size_t returned_limit = 256;
constexpr size_t returned_capacity = 4096; // bytes, as request_dispatcher::spare_capacity

struct returned_buffers {
    core::kept_stack<std::string, returned_limit> data;
    core::kept_stack<std::vector<span32>, returned_limit> headers;
    bool armed = false; ///< the thread's exit releases the stacks
};
static_assert(std::is_trivially_destructible_v<returned_buffers>);
constinit thread_local returned_buffers t_returned;

void release_returned_at_exit() noexcept {
    t_returned.data.release();
    t_returned.headers.release();
}

/// Keeps `buffer` (emptied) if it holds 1 to returned_capacity bytes and there is room.
template <class T> void give_returned(core::kept_stack<T, returned_limit>& to, T& buffer, size_t bytes) noexcept {
    if (bytes == 0 || bytes > returned_capacity) {
        return;
    }
    core::release_at_thread_exit<release_returned_at_exit>(t_returned.armed);
    buffer.clear();
    to.give(buffer); // if full (or released): freed with its request
}

/// `path` with its trailing slash toggled ("/items" <-> "/items/"); empty for "/" (and
/// for anything that is not an origin-form path).
std::string slash_twin(std::string_view path) {
    if (path.size() < 2 || path.front() != '/') {
        return {};
    }
    if (path.back() == '/') {
        return std::string(path.substr(0, path.size() - 1));
    }
    std::string out(path);
    out.push_back('/');
    return out;
}

/// What a trusted proxy (--proxy-headers, a peer in --forwarded-allow-ips) says of the
/// request's origin: nothing for any other peer, whose forwarding headers nobody believes.
forwarded_info trusted_forwarding(const http::request_head& head, const http::peer_address& peer,
                                  const trusted_proxies& proxies) noexcept {
    if (proxies.empty() || !proxies.contains(peer)) [[likely]] {
        return {};
    }
    return read_forwarded(head, proxies);
}

/// Whether a proxy's proto ("https", "http"; RFC 7239 also allows "wss") means TLS.
bool secure_proto(std::string_view proto) noexcept {
    return core::iequals(proto, "https") || core::iequals(proto, "wss");
}

/// The Location of a redirect to `path` (the query kept): absolute with the origin the
/// client used, as Starlette builds it from the scope (behind a trusted proxy: its proto
/// and host, as the app's own URLs get them), else the path alone. A Host was checked by
/// the parser (RFC 9112 §3.2: no CR, LF or space can be in it); a forwarded one is part
/// of a field value, which holds no CR or LF either (RFC 9110 §5.5).
std::string redirect_fields(const http::request_head& head, bool secure, const forwarded_info& fwd,
                            std::string_view path) {
    std::string fields("Location: ");
    std::string_view host = fwd.host.empty() ? head.host : fwd.host;
    if (!fwd.proto.empty()) {
        secure = secure_proto(fwd.proto);
    }
    if (!host.empty()) {
        fields.append(secure ? "https://" : "http://").append(host);
    }
    fields.append(path);
    if (!head.query.empty()) {
        fields.append("?").append(head.query);
    }
    fields.append("\r\n");
    return fields;
}

/// The features of an answer that has none but carries per-request fields (the rate limits').
const http::response_features no_features{};

} // namespace

// A refused request's line: what never came is logged as '-', as a proxy's log does.
void request_dispatcher::on_refused(const http::refused_request& r) noexcept {
    if (access_log_enabled()) [[unlikely]] {
        std::string_view method = r.method.empty() ? "-" : r.method;
        std::string_view target = r.target.empty() ? "-" : r.target;
        auto body = static_cast<int64_t>(r.body_bytes);
        write_access_log({&r.peer, method, target, r.version_minor, r.status, body, 0, {}});
    }
}

void request_dispatcher::serve_static(const static_mount& mount, http::protocol& conn, const http::request_event& ev,
                                      http::protocol_env& env, std::string_view request_id) {
    static_answer& a = _static;
    mount.serve(ev.head, ev.ctx.head_request, a);
    // The response features (CORS, request id, security headers) are in ev.ctx like any
    // answer's; compression is not: a file goes as stored or as its precompressed sibling,
    // so its strong ETag names the bytes sent (and the mount says Vary itself). The switch
    // is the features pointer, so requests that are not static pay nothing for it.
    if (_stored_features != nullptr) [[unlikely]] {
        ev.ctx.features = _stored_features.get();
    }
    if (a.use_file) {
        conn.respond_file(ev.seq, ev.ctx, a.status, a.fields, std::move(a.file), a.offset, a.length, env);
        log_answer(ev, a.status, ev.ctx.head_request ? 0 : a.length, request_id);
    } else {
        conn.respond(ev.seq, ev.ctx, a.status, a.fields, a.body, env);
        log_answer(ev, a.status, ev.ctx.head_request ? 0 : a.body.size(), request_id);
    }
}

// A rate-limited route: count the request under its key; past the limit answer 429 here,
// before anything else (Python included) runs.
bool request_dispatcher::admit(rate_limiter& limit, http::protocol& conn, const http::request_event& ev,
                               http::protocol_env& env, std::string_view request_id) {
    limit.key_of(ev.head, ev.peer, _routes.proxies, _rate_key);
    rate_decision d = limit.hit(_rate_key, rate_clock_us());
    if (d.allowed) {
        if (limit.policy().send_headers) {
            if (ev.ctx.features == nullptr) {
                ev.ctx.features = &no_features; // the framer adds ctx.extra_fields only with features
            }
            limit.append_fields(d, ev.ctx.extra_fields);
        }
        return true;
    }
    std::string fields(http::problem_content_type);
    limit.append_fields(d, fields);
    conn.respond(ev.seq, ev.ctx, 429, fields, problem_too_many_requests, env);
    log_answer(ev, 429, problem_too_many_requests.size(), request_id);
    return false;
}

http::dispatcher::verdict request_dispatcher::on_request(http::protocol& conn, const http::request_event& ev,
                                                         http::protocol_env& env,
                                                         std::shared_ptr<http::body_stream>& stream) {
    const http::request_head& head = ev.head;
    std::string request_id;
    if (_routes.features != nullptr) [[unlikely]] {
        std::string reason;
        http::preflight pf = http::decorate_request(*_routes.features, head, ev.ctx, request_id, reason);
        if (pf != http::preflight::none) {
            if (ev.body_follows) {
                return verdict::buffer; // answered once its body is read (and dropped)
            }
            const preflight_answers& answers = *_routes.preflight;
            if (pf == http::preflight::allowed) {
                conn.respond(ev.seq, ev.ctx, answers.allowed_status, answers.allowed_fields, answers.allowed_body, env);
                log_answer(ev, answers.allowed_status, answers.allowed_body.size(), request_id);
            } else if (answers.starlette_refusals) {
                std::string body = http::preflight_refusal_text(*_routes.features, head);
                conn.respond(ev.seq, ev.ctx, 400, "Content-Type: text/plain; charset=utf-8\r\n", body, env);
                log_answer(ev, 400, body.size(), request_id);
            } else {
                std::string body = http::preflight_problem(reason);
                conn.respond(ev.seq, ev.ctx, 403, "Content-Type: application/problem+json\r\n", body, env);
                log_answer(ev, 403, body.size(), request_id);
            }
            return verdict::answered;
        }
    }
    route_match m;
    uint16_t allowed = 0;
    const std::vector<std::string>* other_names = nullptr; // named methods for Allow
    route_status st = _routes.table.lookup(head.method_id, head.path, m, allowed);
    if (st == route_status::found && head.method_id == http::method_other) [[unlikely]] {
        // The table matched "some other method": the route must list this one by name.
        const auto& names = _routes.targets[m.handler_id].other_methods;
        if (std::find(names.begin(), names.end(), head.method) == names.end()) {
            other_names = &names;
            route_match unused;
            st = _routes.table.lookup(0, head.path, unused, allowed); // no method: every allowed one
        }
    }
    std::string twin; // redirect_slashes: the path a route takes, with its trailing slash toggled
    if (st == route_status::not_found && _routes.redirect_slashes) [[unlikely]] {
        twin = slash_twin(head.path);
        route_match unused;
        uint16_t twin_allowed = 0;
        if (twin.empty() ||
            _routes.table.lookup(head.method_id, twin, unused, twin_allowed) == route_status::not_found) {
            twin.clear();
        }
    }
    if (st == route_status::not_found && twin.empty() && !_routes.statics.empty()) [[unlikely]] {
        // Static mounts: after the routes (a route under a mount's prefix wins), before
        // the fallback. A body is read whole first (verdict::buffer below), then ignored.
        for (const auto& mount : _routes.statics) {
            if (mount->covers(head.path)) {
                if (ev.body_follows) {
                    return verdict::buffer;
                }
                serve_static(*mount, conn, ev, env, request_id);
                return verdict::answered;
            }
        }
    }
    if (st != route_status::found && _routes.fallback != no_fallback && twin.empty()) {
        m.handler_id = _routes.fallback; // the application takes everything else
        m.num_params = 0;
        st = route_status::found;
    }
    if (ev.body_follows) {
        // Only a route that takes its body as a stream gets the request before the body;
        // everything else (native routes, 404/405, sync handlers) reads it whole first.
        bool streams = st == route_status::found && _streams != nullptr &&
                       _routes.targets[m.handler_id].kind == target_kind::python &&
                       _routes.targets[m.handler_id].streams_body;
        if (!streams) {
            return verdict::buffer;
        }
    }
    if (st != route_status::found) [[unlikely]] {
        const native_errors& errors = *_routes.errors;
        if (!twin.empty()) {
            forwarded_info fwd = trusted_forwarding(head, ev.peer, _routes.proxies);
            std::string fields = redirect_fields(head, ev.peer.secure, fwd, twin);
            conn.respond(ev.seq, ev.ctx, 307, fields, {}, env);
            log_answer(ev, 307, 0, request_id);
        } else if (st == route_status::method_not_allowed) {
            std::string fields(errors.content_type);
            fields.append("Allow: ");
            http::append_method_names(fields, allowed);
            if (other_names != nullptr) {
                for (const std::string& name : *other_names) {
                    fields.append(fields.back() == ' ' ? "" : ", ").append(name);
                }
            }
            fields.append("\r\n");
            conn.respond(ev.seq, ev.ctx, 405, fields, errors.method_not_allowed, env);
            log_answer(ev, 405, errors.method_not_allowed.size(), request_id);
        } else {
            conn.respond(ev.seq, ev.ctx, 404, errors.content_type, errors.not_found, env);
            log_answer(ev, 404, errors.not_found.size(), request_id);
        }
        return verdict::answered;
    }
    const route_target& target = _routes.targets[m.handler_id];
    if (target.rate_limit != nullptr) [[unlikely]] {
        if (!admit(*target.rate_limit, conn, ev, env, request_id)) {
            return verdict::answered;
        }
    }
    bool websocket = false;
    if (target.websocket) [[unlikely]] {
        ws::opening_check hs = ws::check_opening(head);
        if (hs.status == ws::opening_status::valid && !ev.body_follows && ev.body.empty()) {
            websocket = true;
        } else if (ws::opening_refusal r = ws::refusal_of(hs, target.websocket_only); r.status != 0) {
            conn.respond(ev.seq, ev.ctx, r.status, r.fields, r.body, env);
            log_answer(ev, r.status, r.body.size(), request_id);
            return verdict::answered;
        }
    }
    if (target.kind != target_kind::python) {
        if (_route_latency != nullptr) {
            _route_latency[m.handler_id].record(0);
        }
        if (target.kind == target_kind::health) [[unlikely]] {
            probe_answer a = _routes.health->answer(target.probe);
            conn.respond(ev.seq, ev.ctx, a.status, probe_fields, a.body, env);
            log_answer(ev, a.status, a.body.size(), request_id);
            return verdict::answered;
        }
        if (target.kind == target_kind::metrics) [[unlikely]] {
            std::string text;
            if (_metrics != nullptr) {
                _metrics->render(text);
            }
            conn.respond(ev.seq, ev.ctx, 200, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", text, env);
            log_answer(ev, 200, text.size(), request_id);
            return verdict::answered;
        }
        const native_response& nr = target.response;
        conn.respond(ev.seq, ev.ctx, nr.status, nr.headers, nr.body, env);
        log_answer(ev, nr.status, nr.body.size(), request_id);
        return verdict::answered;
    }

    if (_routes.health != nullptr && !_routes.health->started()) [[unlikely]] {
        // With health probes the server listens while the startup hooks run: what they
        // prepare (a database pool) is not there yet, so nothing reaches the app.
        std::string fields(http::problem_content_type);
        fields.append("Retry-After: 1\r\n");
        conn.respond(ev.seq, ev.ctx, 503, fields, http::problem_starting, env);
        log_answer(ev, 503, http::problem_starting.size(), request_id);
        return verdict::answered;
    }
    // Backpressure: past the concurrency cap answer 503 at once instead of queueing.
    if (_app_limit != 0) {
        if (_app_pending->load(std::memory_order_relaxed) >= _app_limit) {
            std::string fields(http::problem_content_type);
            fields.append("Retry-After: 1\r\n");
            conn.respond(ev.seq, ev.ctx, 503, fields, http::problem_unavailable, env);
            log_answer(ev, 503, http::problem_unavailable.size(), request_id);
            return verdict::answered;
        }
        _app_pending->fetch_add(1, std::memory_order_relaxed);
    }
    // Hand the request to the application: one owned copy of head and body.
    app_request& req = _batch.emplace_back();
    if (!_spare_data.empty()) [[likely]] {
        req.data = std::move(_spare_data.back());
        _spare_data.pop_back();
    } else {
        t_returned.data.take(req.data);
    }
    if (!_spare_headers.empty()) [[likely]] {
        req.headers = std::move(_spare_headers.back());
        _spare_headers.pop_back();
    } else {
        t_returned.headers.take(req.headers);
    }
    req.route_id = m.handler_id;
    req.start_ns = _route_latency != nullptr || access_log_enabled() ? core::monotonic_ns() : 0;
    req.conn_slot = ev.slot;
    req.conn_gen = ev.gen;
    req.seq = ev.seq;
    req.handler = target.handler;
    std::string_view head_bytes = ev.head_bytes;
    if (ev.buffer != nullptr && ev.buffer->data() == head_bytes.data() &&
        ev.buffer->size() == head_bytes.size() + ev.body.size()) {
        // The protocol's buffer holds exactly this request: it becomes the request's (no
        // copy of a body read whole; the views below keep their offsets), and the
        // protocol takes the spare one in exchange (cleared: nothing is freed).
        req.data.swap(*ev.buffer);
        ev.buffer->clear();
    } else {
        // Into the reused buffer when it has room (the usual request: no allocation);
        // else a new one, of at least fresh_data_min bytes so that as a spare it fits the
        // next requests of other sizes (a large body's copy goes into a kept buffer:
        // http/body_buffers.hpp).
        size_t need = head_bytes.size() + ev.body.size() + app_request_padding;
        if (req.data.capacity() < need) {
            req.data = http::take_body_buffer(std::max(need, fresh_data_min));
        }
        req.data.append(head_bytes);
        if (!ev.body.empty()) {
            req.data.append(ev.body);
        }
    }
    const char* base = head_bytes.data();
    req.method = span_of(head.method, base);
    req.target = span_of(head.target, base);
    req.path = span_of(head.path, base);
    req.query = span_of(head.query, base);
    req.body = {static_cast<uint32_t>(head_bytes.size()), static_cast<uint32_t>(ev.body.size())};
    req.method_id = head.method_id;
    req.version_minor = head.version_minor;
    req.keep_alive = ev.ctx.keep_alive;
    req.head_request = ev.ctx.head_request;
    req.websocket = websocket;
    req.headers.clear();
    req.headers.reserve(head.num_headers * 2u);
    for (uint16_t i = 0; i < head.num_headers; ++i) {
        req.headers.push_back(span_of(head.headers[i].name, base));
        req.headers.push_back(span_of(head.headers[i].value, base));
    }
    req.num_params = m.num_params;
    for (uint8_t i = 0; i < m.num_params; ++i) {
        req.params[i] = {m.params[i].type, span_of(m.params[i].raw, base), m.params[i].int_value};
    }
    req.peer = ev.peer;
    req.https = ev.peer.secure;
    if (ev.peer.tls != nullptr) [[unlikely]] {
        req.tls = core::tls_ref(ev.peer.tls); // one per connection, shared by its requests
    }
    if (ev.peer.proxy != nullptr) [[unlikely]] {
        req.proxy = core::proxy_ref(ev.peer.proxy);
    }
    if (!_routes.proxies.empty()) [[unlikely]] {
        forwarded_info fwd = trusted_forwarding(head, ev.peer, _routes.proxies);
        if (fwd.has_client) {
            req.peer = fwd.client;
        }
        if (!fwd.proto.empty()) {
            req.https = secure_proto(fwd.proto);
        }
        if (!fwd.host.empty()) {
            req.forwarded_host = {static_cast<uint32_t>(req.data.size()), static_cast<uint32_t>(fwd.host.size())};
            req.data.append(fwd.host);
        }
    }
    if (!request_id.empty()) [[unlikely]] {
        req.request_id = {static_cast<uint32_t>(req.data.size()), static_cast<uint32_t>(request_id.size())};
        req.data.append(request_id);
    } else {
        req.request_id = {};
    }
    if (ev.body_follows) {
        stream = _streams->make_body_stream(ev.slot, ev.gen, ev.seq);
        req.streamed_body = stream;
        return verdict::streaming;
    }
    req.streamed_body.reset();
    if (websocket) {
        return verdict::upgrade; // nothing after it is HTTP until the app accepts or refuses
    }
    if (target.watches_disconnect && _streams != nullptr) {
        stream = _streams->make_body_stream(ev.slot, ev.gen, ev.seq); // the connection fails it if the client goes
        req.watch = stream;
    }
    return verdict::to_app;
}

void request_dispatcher::recycle_batch() noexcept {
    for (app_request& r : _batch) {
        if (_spare_data.size() < spare_limit && r.data.capacity() <= spare_capacity &&
            r.data.capacity() > std::string().capacity()) {
            r.data.clear();
            _spare_data.push_back(std::move(r.data));
        }
        if (_spare_headers.size() < spare_limit && r.headers.capacity() != 0 &&
            r.headers.capacity() * sizeof(span32) <= spare_capacity) {
            r.headers.clear();
            _spare_headers.push_back(std::move(r.headers));
        }
    }
    _batch.clear();
}

void return_request_buffers(app_request& r) noexcept {
    if (r.data.capacity() > std::string().capacity()) {
        give_returned(t_returned.data, r.data, r.data.capacity());
    }
    give_returned(t_returned.headers, r.headers, r.headers.capacity() * sizeof(span32));
}

} // namespace ringbolt::dispatch
