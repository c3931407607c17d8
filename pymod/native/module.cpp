// ringbolt._native: the pybind11 module. One init_* per area; the Server class here
// is what ringbolt.App drives (routes in, start, wait with signals, stop, stats).
#define PY_SSIZE_T_CLEAN
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/log.hpp"
#include "core/strings.hpp"
#include "dispatch/access_log.hpp"
#include "http/char_classes.hpp"
#include "http/method_names.hpp"
#include "http/parser.hpp"
#include "http/response_writer.hpp"
#include "pymod/native/asgi/asgi_cycle.hpp"
#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/bridge/kept_list.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/server_options.hpp"
#include "pymod/native/tls/tls_info_py.hpp"
#include "pymod/native/tls/tls_py.hpp"
#include "pymod/native/websocket/websocket.hpp"
#include "pymod/native/wsgi/wsgi_call.hpp"
#include "quic/steering.hpp"
#include "quic/tls_session.hpp"
#include "server/protocols.hpp"
#include "server/server.hpp"
#include "uring/listener.hpp"
#include "uring/ring.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

namespace pb = pybind11;

namespace ringbolt::py {
int init_asgi_call(PyObject* module);  // asgi_call.cpp
int init_eager_task(PyObject* module); // eager_task.cpp
} // namespace ringbolt::py

namespace ringbolt::py {

using ringbolt::py::app_bridge;
using ringbolt::py::python_types;
using ringbolt::py::response_parts;

void init_forms(pb::module_& m);            // form_parser.cpp
int init_value_signer(PyObject* module);    // tls/signed_value_py.cpp: ringbolt._native.ValueSigner
int init_dependency_fast(PyObject* module); // bridge/dependency_fast.cpp: SessionReader, KeptBearer

python_types g_types; // set once by ringbolt/__init__.py via _set_types and _set_request_methods

/// The router's mask for `methods`; names outside the parser's set (any RFC 9110 token:
/// PROPFIND, REPORT, PURGE, QUERY...) become method_other and are listed in `other`.
uint16_t method_mask(const std::vector<std::string>& methods, std::vector<std::string>* other = nullptr) {
    uint16_t mask = 0;
    for (const auto& m : methods) {
        const uint16_t bit = http::method_bit_of(m);
        if (bit == http::method_connect) {
            throw pb::value_error("CONNECT cannot be routed (it names a host, not a path)");
        }
        if (bit != http::method_other) {
            mask |= bit;
            continue;
        }
        bool token = !m.empty() && std::all_of(m.begin(), m.end(), [](char c) {
            return http::chars::tchar[static_cast<unsigned char>(c)];
        });
        if (!token || other == nullptr) {
            throw pb::value_error("invalid method '" + m + "': a method is an RFC 9110 token such as GET or PROPFIND");
        }
        mask |= http::method_other;
        other->push_back(m);
    }
    if (mask == 0) {
        throw pb::value_error("a route needs at least one method");
    }
    return mask;
}

class native_server {
  public:
    explicit native_server(const pb::dict& c) {
        _routes = std::make_shared<dispatch::app_routes>();
        _bridge = std::make_unique<app_bridge>(g_types);
        auto& cfg = _config;
        read_server_config(c, cfg); // the plain options; TLS, routes and the bridge below
        _handler_threads = get_opt<unsigned>(c, "handler_threads", 0);
        _rate_limit_fd = get_opt<int>(c, "rate_limit_fd", -1);
        std::string access_error = dispatch::configure_access_log(
            get_opt<bool>(c, "access_log", false),
            get_opt<std::string>(c, "access_log_format", std::string(dispatch::default_access_format)));
        if (!access_error.empty()) {
            throw pb::value_error(access_error);
        }
        if (get_opt<bool>(c, "proxy_headers", false)) {
            std::string err = _routes->proxies.parse(get_opt<std::string>(c, "forwarded_allow_ips", "127.0.0.1"));
            if (!err.empty()) {
                throw pb::value_error(err);
            }
        }
        read_server_fields(c, cfg.fields);
        cfg.http = read_http_versions(c);
        if (tls_py::configured(c)) {
            _tls_options = tls_py::read_options(c);                  // ValueError naming the option
            server::alpn_choice offer = server::alpn_offer_for(cfg); // the protocol registry's ids
            _tls_options.alpn.ids = std::move(offer.ids);
            _tls_options.alpn.required = offer.required;
            _tls = tls_py::make_factory(_tls_options);
            cfg.transports = _tls;
        }
        read_http3(c, tls_py::configured(c), _tls_options, cfg.http3);
    }

    ~native_server() {
        if (_server) {
            pb::gil_scoped_release unlocked; // reactors and handler threads take the GIL on exit
            _server->stop();
            _server->join();
            _bridge->stop_pool();
            _server.reset();
        }
    }

    /// Returns the route's id (for set_rate_limit).
    uint32_t add_route(const std::string& pattern, const std::vector<std::string>& methods, pb::object handler,
                       bool is_coroutine, bool websocket) {
        check_not_started();
        uint32_t id = static_cast<uint32_t>(_routes->targets.size());
        dispatch::route_target t;
        std::string err = _routes->table.add(pattern, method_mask(methods, &t.other_methods), id);
        if (!err.empty()) {
            throw pb::value_error(err);
        }
        pb::tuple names = param_names(id);
        t.kind = dispatch::target_kind::python;
        t.pattern = pattern;
        t.handler = _bridge->add_handler(handler.ptr(), names.ptr(), is_coroutine);
        t.streams_body = is_coroutine; // async handlers may take large bodies as they arrive
        t.websocket = websocket;       // a WebSocket endpoint: handshakes only (else 426)
        t.websocket_only = websocket;
        _routes->targets.push_back(std::move(t));
        return id;
    }

    uint32_t add_const_route(const std::string& pattern, const std::vector<std::string>& methods, pb::object result) {
        check_not_started();
        response_parts parts;
        http::response_head head;
        ringbolt::py::json_default_scope json_default(_bridge->json_default());
        if (!ringbolt::py::convert_result(result.ptr(), g_types, parts) || !ringbolt::py::build_head(parts, head)) {
            throw pb::error_already_set();
        }
        if (parts.source != response_parts::body_source::bytes) {
            throw pb::value_error("a const route must return a whole body, not a streamed or file response");
        }
        uint32_t id = static_cast<uint32_t>(_routes->targets.size());
        std::string err = _routes->table.add(pattern, method_mask(methods), id);
        if (!err.empty()) {
            throw pb::value_error(err);
        }
        dispatch::route_target t;
        t.kind = dispatch::target_kind::native;
        t.pattern = pattern;
        t.response.status = head.status;
        // checked: no framing or Connection fields
        t.response.headers = head.fields.empty() ? std::string(head.static_fields) : std::move(head.fields);
        t.response.body = parts.take_body();
        _routes->targets.push_back(std::move(t));
        return id;
    }

    /// The handler for every request no route matches, any method (an ASGI or WSGI app).
    uint32_t set_fallback(pb::object handler, bool is_coroutine, bool streams_body, bool websocket) {
        check_not_started();
        if (_routes->fallback != dispatch::no_fallback) {
            throw pb::value_error("the server already has a fallback handler");
        }
        dispatch::route_target t;
        t.kind = dispatch::target_kind::python;
        t.pattern = "*";
        t.handler = _bridge->add_handler(handler.ptr(), pb::tuple().ptr(), is_coroutine);
        t.streams_body = streams_body;       // large/chunked bodies reach the app as they arrive
        t.watches_disconnect = is_coroutine; // ASGI: http.disconnect while the app runs
        t.websocket = websocket;             // ASGI: handshakes become websocket scopes
        _routes->fallback = static_cast<uint32_t>(_routes->targets.size());
        _routes->targets.push_back(std::move(t));
        return _routes->fallback;
    }

    /// app.rate_limit / a route's rate_limit= (dispatch/rate_limit.hpp): a limit of `limit`
    /// requests per `window_ms`; returns its id for set_rate_limit. Its table is mapped at
    /// start, from the supervisor's memfd (`rate_limit_fd`) when there is one.
    uint32_t add_rate_limit(uint32_t limit, uint64_t window_ms, const std::string& algorithm, const std::string& key,
                            const std::string& header, bool send_headers, uint64_t table_size) {
        check_not_started();
        dispatch::rate_policy p;
        if (limit == 0 || limit > dispatch::max_rate_limit) {
            throw pb::value_error("a rate limit allows 1 to " + std::to_string(dispatch::max_rate_limit) +
                                  " requests a window, not " + std::to_string(limit));
        }
        if (window_ms == 0 || window_ms > dispatch::max_rate_window_ms) {
            throw pb::value_error("a rate limit's window is 1 ms to 366 days");
        }
        if (algorithm == "sliding_window") {
            p.algorithm = dispatch::rate_algorithm::sliding_window;
        } else if (algorithm == "token_bucket") {
            p.algorithm = dispatch::rate_algorithm::token_bucket;
        } else {
            throw pb::value_error("a rate limit's algorithm is 'sliding_window' or 'token_bucket', not '" + algorithm +
                                  "'");
        }
        if (key == "client") {
            p.key = dispatch::rate_key::client;
        } else if (key == "header" && !header.empty()) {
            p.key = dispatch::rate_key::header;
            p.header = header;
        } else {
            throw pb::value_error("a rate limit's key is 'client' or 'header' with a header name");
        }
        if (table_size < dispatch::rate_bucket || table_size > (uint64_t{1} << 28)) {
            throw pb::value_error("a rate limit's table_size is 8 to 2**28 keys");
        }
        p.limit = limit;
        p.window_ms = window_ms;
        p.send_headers = send_headers;
        p.slots = table_size;
        _routes->rate_limits.push_back(std::make_unique<dispatch::rate_limiter>(std::move(p)));
        return static_cast<uint32_t>(_routes->rate_limits.size() - 1);
    }

    /// Route `route` (add_route's id) counts against rate limit `limit` (add_rate_limit's).
    void set_rate_limit(uint32_t route, uint32_t limit) {
        check_not_started();
        if (route >= _routes->targets.size() || limit >= _routes->rate_limits.size()) {
            throw pb::value_error("set_rate_limit: no such route or rate limit");
        }
        _routes->targets[route].rate_limit = _routes->rate_limits[limit].get();
    }

    void set_async_runner(pb::object runner) { _bridge->set_async_runner(runner.ptr()); }
    void set_json_default(pb::object fn) { _bridge->set_json_default(fn.is_none() ? nullptr : fn.ptr()); }

    // Response features (http/response_features.hpp): configured before start.
    void enable_compression(uint64_t min_size, const std::vector<std::string>& algorithms,
                            const std::vector<int>& levels, const std::vector<std::string>& exclude_types) {
        check_not_started();
        check_feature(http::configure_compression(features(), min_size, algorithms, levels, exclude_types));
    }
    void enable_cors(const std::vector<std::string>& origins, const std::vector<std::string>& methods,
                     const std::vector<std::string>& headers, bool credentials, const std::vector<std::string>& expose,
                     int64_t max_age) {
        check_not_started();
        check_feature(http::configure_cors(features(), origins, methods, headers, credentials, expose, max_age));
    }
    void enable_request_id(const std::string& header) {
        check_not_started();
        check_feature(http::configure_request_id(features(), header));
    }
    void enable_security_headers(const std::vector<std::pair<std::string, std::string>>& fields) {
        check_not_started();
        check_feature(http::configure_security_headers(features(), fields));
    }

    void add_metrics_route(const std::string& pattern) {
        check_not_started();
        uint32_t id = static_cast<uint32_t>(_routes->targets.size());
        std::string err = _routes->table.add(pattern, http::method_get, id);
        if (!err.empty()) {
            throw pb::value_error(err);
        }
        dispatch::route_target t;
        t.kind = dispatch::target_kind::metrics;
        t.pattern = pattern;
        _routes->targets.push_back(std::move(t));
    }

    /// app.health(): a probe (`kind` "live", "ready" or "startup") at `pattern` (GET,
    /// HEAD), answered natively from the server's health state (dispatch/health_state).
    void add_health_route(const std::string& pattern, const std::string& kind) {
        check_not_started();
        dispatch::route_target t;
        if (!dispatch::parse_probe_kind(kind, t.probe)) {
            throw pb::value_error("a health probe is 'live', 'ready' or 'startup', not '" + kind + "'");
        }
        uint32_t id = static_cast<uint32_t>(_routes->targets.size());
        std::string err = _routes->table.add(pattern, http::method_get, id);
        if (!err.empty()) {
            throw pb::value_error(err);
        }
        t.kind = dispatch::target_kind::health;
        t.pattern = pattern;
        _routes->targets.push_back(std::move(t));
        if (!_routes->health) {
            _routes->health = std::make_shared<dispatch::health_state>();
        }
    }
    // The state the probes answer from; a server without probes has none to set.
    /// The startup hooks and lifespan have completed: startup and ready may answer 200.
    void health_started() {
        if (_routes->health) {
            _routes->health->set_started();
        }
    }
    /// Ready answers 503 from now on (a stop also says so, at once).
    void health_draining() {
        if (_routes->health) {
            _routes->health->set_draining();
        }
    }
    /// The user checks' last results (see health_state::set_checks).
    void health_checks(bool passed, const std::string& checks_json) {
        if (_routes->health) {
            _routes->health->set_checks(passed, checks_json);
        }
    }

    /// app.static(): files under `prefix` from `directory`, answered natively.
    void add_static(const std::string& prefix, const std::string& directory, const std::string& index,
                    const std::string& cache_control, bool precompressed, bool dotfiles) {
        check_not_started();
        dispatch::static_config cfg{.prefix = prefix,
                                    .directory = directory,
                                    .index = index,
                                    .cache_control = cache_control,
                                    .precompressed = precompressed,
                                    .dotfiles = dotfiles};
        std::string err;
        std::unique_ptr<dispatch::static_mount> m = dispatch::static_mount::open(std::move(cfg), err);
        if (!m) {
            throw pb::value_error(err);
        }
        _routes->statics.push_back(std::move(m));
    }

    std::string metrics_text() {
        std::string out;
        if (_server) {
            _server->render(out);
        }
        return out;
    }

    pb::dict start() {
        check_not_started();
        map_rate_limits();
        _server = std::make_unique<server::server>(_config, _routes, *_bridge);
        unsigned n = _config.threads;
        if (n == 0) {
            cpu_set_t set;
            n = sched_getaffinity(0, sizeof(set), &set) == 0 ? static_cast<unsigned>(CPU_COUNT(&set)) : 1;
        }
        _bridge->prepare(n);
        if (_handler_threads > 0) {
            _bridge->start_pool(_handler_threads);
        }
        core::result<void> r;
        {
            pb::gil_scoped_release unlocked;
            r = _server->start();
        }
        if (!r.ok()) {
            {
                pb::gil_scoped_release unlocked;
                _bridge->stop_pool();
            }
            std::string msg = _server->error_message();
            int err = r.sys_errno();
            _server.reset();
            if (r.error() == core::errc::bind_failed) {
                PyErr_SetObject(PyExc_OSError, pb::make_tuple(err, msg).ptr());
                throw pb::error_already_set();
            }
            throw std::runtime_error(msg);
        }
        pb::dict info;
        info["port"] = _server->port();
        info["threads"] = _server->threads();
        info["io"] = _server->io_description();
        info["http3_cc"] = quic::congestion_name(_server->config().http3.transport.congestion);
        return info;
    }

    /// Block until the server has stopped. Signal handlers (installed by Python) run
    /// between waits; an exception they raise stops the server and propagates.
    void wait() {
        if (!_server) {
            return;
        }
        while (true) {
            bool done;
            {
                pb::gil_scoped_release unlocked;
                done = _server->wait_exit(100);
            }
            if (done) {
                break;
            }
            if (PyErr_CheckSignals() < 0) {
                pb::error_already_set e;
                {
                    pb::gil_scoped_release unlocked;
                    _server->stop();
                    _server->join();
                    _bridge->stop_pool();
                }
                throw e;
            }
        }
        pb::gil_scoped_release unlocked;
        _server->join();
        _bridge->stop_pool();
    }

    void stop() {
        if (_routes->health) {
            _routes->health->set_draining(); // before any connection closes
        }
        if (_server) {
            _server->stop();
        }
    }

    pb::list stats() {
        pb::list out;
        if (!_server) {
            return out;
        }
        for (const auto& r : _server->reactors()) {
            pb::dict d;
            auto& c = r->counters();
#define RINGBOLT_STAT(name) d[#name] = c.name.get();
            RINGBOLT_CORE_COUNTERS(RINGBOLT_STAT)
#undef RINGBOLT_STAT
            out.append(d);
        }
        return out;
    }

    int port() const {
        return _server ? _server->port() : 0;
    }

    /// The config's `max_requests` was reached (the server drains by itself): how many
    /// requests the reactors had counted then, or None.
    std::optional<uint64_t> request_limit_reached() const {
        if (!_server || !_server->request_limit_reached()) {
            return std::nullopt;
        }
        return _server->requests_counted();
    }

    /// SIGHUP: new certificates and keys for new connections (open ones keep theirs), on
    /// TCP and, with --http3, on QUIC. ValueError (the old ones stay, on both) when the
    /// files are bad.
    void reload_tls() {
        if (!_tls) {
            throw pb::value_error("the server does not serve TLS");
        }
        std::shared_ptr<const quic::tls_credentials> quic_creds;
        if (_config.http3.credentials) {
            // First: a bad file changes nothing. A new ticket key with them: the sessions
            // of before no longer resume (a reload rotates the key).
            quic::resumption r = _config.http3.resumption();
            ++r.generation;
            quic_creds = load_quic_credentials(_tls_options, r);
        }
        tls_py::reload(*_tls, _tls_options);
        if (quic_creds) {
            _config.http3.credentials->replace(std::move(quic_creds));
            ++_config.http3.ticket_generation;
        }
    }

    bool tls() const {
        return _tls != nullptr;
    }

  private:
    void check_not_started() const {
        if (_server) {
            throw std::runtime_error("the server is already running");
        }
    }

    http::response_features& features() {
        if (!_routes->features) {
            _routes->features = std::make_unique<http::response_features>();
        }
        return *_routes->features;
    }
    static void check_feature(const std::string& err) {
        if (!err.empty()) {
            throw pb::value_error(err);
        }
    }

    pb::tuple param_names(uint32_t id) {
        const auto& names = _routes->table.param_names(id);
        pb::tuple t(names.size());
        for (size_t i = 0; i < names.size(); ++i) {
            t[i] = pb::reinterpret_steal<pb::object>(PyUnicode_InternFromString(names[i].c_str()));
        }
        return t;
    }

    server::server_config _config;
    std::shared_ptr<dispatch::app_routes> _routes;
    std::unique_ptr<app_bridge> _bridge;
    std::unique_ptr<server::server> _server;
    unsigned _handler_threads = 0;
    int _rate_limit_fd = -1; ///< the supervisor's memfd for the rate limits' tables (-1: our own memory)

    /// One shared memory for every rate limit's table, carved in their order (the same in
    /// every worker: the same app).
    void map_rate_limits() {
        if (_routes->rate_limits.empty() || _rate_memory) {
            return;
        }
        size_t bytes = dispatch::rate_memory::header_bytes;
        for (const auto& l : _routes->rate_limits) {
            bytes += dispatch::rate_memory::table_bytes(l->slots());
        }
        std::string error;
        _rate_memory = dispatch::rate_memory::map(_rate_limit_fd, bytes, error);
        if (!_rate_memory) {
            throw std::runtime_error(error);
        }
        size_t offset = dispatch::rate_memory::header_bytes;
        for (const auto& l : _routes->rate_limits) {
            l->attach(_rate_memory, offset);
            offset += dispatch::rate_memory::table_bytes(l->slots());
        }
    }
    std::shared_ptr<dispatch::rate_memory> _rate_memory;
    tls::options _tls_options;
    std::shared_ptr<tls::factory> _tls;
};

void init_json(pb::module_& m) {
    // A plain METH_FASTCALL function, not a pybind11 one: its call overhead would be a
    // large part of serializing a small dict.
    static PyMethodDef json_dumps_def = {
        "json_dumps", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&ringbolt::py::json_dumps)),
        METH_FASTCALL | METH_KEYWORDS,
        "json_dumps(obj, default=None) -> bytes\n\nSerialize with ringbolt's JSON writer (compact, UTF-8): the JSON "
        "types, datetime/date/time (ISO 8601), UUID, Enum, Decimal and dataclasses; `default(value)` is called for "
        "anything else."};
    PyObject* fn = PyCFunction_NewEx(&json_dumps_def, nullptr, m.attr("__name__").ptr());
    if (fn == nullptr) {
        throw pb::error_already_set();
    }
    m.add_object("json_dumps", pb::reinterpret_steal<pb::object>(fn));
    m.def(
        "json_loads",
        [](pb::handle data) {
            std::string buf;
            if (PyUnicode_Check(data.ptr())) {
                buf = data.cast<std::string>();
            } else {
                buf = data.cast<pb::bytes>();
            }
            PyObject* r = ringbolt::py::parse_json(buf.data(), buf.size(), false, g_types.bad_request);
            if (r == nullptr) {
                throw pb::error_already_set();
            }
            return pb::reinterpret_steal<pb::object>(r);
        },
        "Parse JSON with simdjson.");
}

PyObject* complete_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_complete(pending, result, exc) takes 3 arguments");
        return nullptr;
    }
    return ringbolt::py::complete_async(args[0], args[1], args[2]);
}

PyObject* needs_finish_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_needs_finish(state: dict, result) takes 2 arguments");
        return nullptr;
    }
    return PyBool_FromLong(ringbolt::py::needs_finish(args[0], args[1], g_types));
}

PyObject* flush_noargs(PyObject*, PyObject*) {
    return ringbolt::py::flush_completions();
}

PyObject* take_async_noargs(PyObject*, PyObject*) {
    return ringbolt::py::take_async_requests();
}

PyObject* begin_batch_noargs(PyObject*, PyObject*) {
    ringbolt::py::begin_batch();
    Py_RETURN_NONE;
}

PyObject* end_batch_noargs(PyObject*, PyObject*) {
    return ringbolt::py::end_batch();
}

void init_runtime(pb::module_& m) {
    // The body of the native 500 (http/problem.hpp), for the 500s the ASGI and WSGI
    // adapters build themselves: one error format, byte for byte.
    m.attr("PROBLEM_INTERNAL_ERROR") =
        pb::bytes(ringbolt::http::problem_internal_error.data(), ringbolt::http::problem_internal_error.size());
    m.def("_set_types", [](pb::object response, pb::object http_error, pb::object bad_request, pb::object headers,
                           pb::object query_params, pb::object log_exception, pb::object streaming_response,
                           pb::object file_response, pb::object start_stream, pb::object client_disconnect,
                           pb::object request_stream, pb::object request_read) {
        g_types.client_disconnect = client_disconnect.release().ptr();
        g_types.request_stream = request_stream.release().ptr();
        g_types.request_read = request_read.release().ptr();
        g_types.streaming_response = streaming_response.release().ptr();
        g_types.file_response = file_response.release().ptr();
        g_types.start_stream = start_stream.release().ptr();
        g_types.response = response.release().ptr();
        g_types.http_error = http_error.release().ptr();
        g_types.bad_request = bad_request.release().ptr();
        g_types.headers = headers.release().ptr();
        g_types.query_params = query_params.release().ptr();
        g_types.query_items_offset = py::query_items_offset(g_types.query_params);
        g_types.log_exception = log_exception.release().ptr();
    });
    // The Request's methods written in Python, registered by the package as it is
    // imported: the native module imports nothing of the package.
    m.def("_set_request_methods", [](pb::object form, pb::object set_cookie, pb::object delete_cookie,
                                     pb::object background, pb::object finish_result) {
        g_types.request_form = form.release().ptr();
        g_types.request_set_cookie = set_cookie.release().ptr();
        g_types.request_delete_cookie = delete_cookie.release().ptr();
        g_types.request_background = background.release().ptr();
        g_types.finish_result = finish_result.release().ptr();
    });
    // Plain C functions, not pybind11 ones: called for every async request, where
    // pybind11's dispatcher costs more than the functions themselves.
    static PyMethodDef loop_defs[] = {
        {"_complete", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&complete_fast)), METH_FASTCALL,
         "_complete(pending, result, exc): answer an async request (used by ringbolt's asyncio runner); True: "
         "schedule _flush_completions."},
        {"_needs_finish", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&needs_finish_fast)),
         METH_FASTCALL,
         "_needs_finish(state, result): whether finish_result has anything to do (the bridge's own rule, for the "
         "ASGI adapter)."},
        {"_flush_completions", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&flush_noargs)), METH_NOARGS,
         "Deliver the answers completed since the last call (one wake-up per reactor)."},
        {"_take_async", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&take_async_noargs)), METH_NOARGS,
         "The async requests staged for the loop since the last call: [(handler, request, pending), ...], or None."},
        {"_begin_batch", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&begin_batch_noargs)), METH_NOARGS,
         "The event loop starts a reactor's batch: staged answers schedule no flush until _end_batch."},
        {"_end_batch", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&end_batch_noargs)), METH_NOARGS,
         "The batch is started: deliver what it staged."},
    };
    for (PyMethodDef& def : loop_defs) {
        PyObject* fn = PyCFunction_NewEx(&def, nullptr, m.attr("__name__").ptr());
        if (fn == nullptr) {
            throw pb::error_already_set();
        }
        m.add_object(def.ml_name, pb::reinterpret_steal<pb::object>(fn));
    }
    if (ringbolt::py::init_asgi_cycle(m.ptr(), m.attr("_flush_completions").ptr()) < 0 ||
        ringbolt::py::init_asgi_call(m.ptr()) < 0 || ringbolt::py::init_eager_task(m.ptr()) < 0 ||
        ringbolt::py::init_raw_json(m.ptr()) < 0) {
        throw pb::error_already_set();
    }
    m.def(
        "_stream_notify_fd", [] { return ringbolt::py::stream_notify_fd(); },
        "The eventfd an event loop watches for streamed responses that may go on.");
    m.def(
        "_stream_ready",
        [] {
            PyObject* r = ringbolt::py::stream_ready();
            if (r == nullptr) {
                throw pb::error_already_set();
            }
            return pb::reinterpret_steal<pb::object>(r);
        },
        "Futures of async producers that may go on (writable again, or the client is gone).");
    m.def(
        "_loop_wakes",
        [] {
            return pb::make_tuple(ringbolt::py::loop_wakes_eventfd.load(std::memory_order_relaxed),
                                  ringbolt::py::loop_wakes_after_turn.load(std::memory_order_relaxed));
        },
        "(eventfd writes, wake-ups taken after a hosted turn) of the event loop, since start-up.");
    m.def(
        "_stream_ready_here",
        [] {
            PyObject* r = ringbolt::py::stream_ready(false);
            if (r == nullptr) {
                throw pb::error_already_set();
            }
            return pb::reinterpret_steal<pb::object>(r);
        },
        "_stream_ready for a loop on a reactor's thread, after a turn that said so: the eventfd is not read.");
    if (!ringbolt::py::init_stream_type(m.ptr()) || !ringbolt::py::init_websocket(m.ptr())) {
        throw pb::error_already_set();
    }
    m.def("set_log_level", [](int level) { core::set_log_level(static_cast<core::log_level>(level)); });
    m.def(
        "log_dropped", [] { return core::log_dropped(); }, "Native log lines dropped because stderr did not keep up.");
    m.def(
        "bind_listeners",
        [](const std::string& host, uint16_t port, unsigned count, int backlog) {
            core::result<std::vector<int>> fds = uring::open_listeners(host, port, count, backlog);
            if (!fds.ok()) {
                int err = fds.sys_errno();
                std::string why = uring::describe_listen_failure(host, port, err);
                PyErr_SetObject(PyExc_OSError, pb::make_tuple(err, why).ptr());
                throw pb::error_already_set();
            }
            return fds.value();
        },
        pb::arg("host"), pb::arg("port"), pb::arg("count"), pb::arg("backlog"),
        "`count` listening sockets (fds) on host:port with SO_REUSEPORT, after the probe that "
        "refuses a port another process serves (the server's own binding, uring/listener.cpp).");
    m.def(
        "bind_quic_sockets",
        [](const std::string& host, uint16_t port, unsigned count) {
            uring::datagram_options opts;
            opts.gro = true;
            opts.receive_buffer = server::quic_receive_buffer;
            opts.announce = false; // the supervisor: no log line, so no log thread, before it forks
            core::result<std::vector<uring::datagram_socket>> socks =
                uring::open_datagram_group(host, port, count, opts);
            if (!socks.ok()) {
                int err = socks.sys_errno();
                std::string why =
                    "cannot open UDP " + host + ":" + std::to_string(port) + " for HTTP/3: " + std::strerror(err);
                PyErr_SetObject(PyExc_OSError, pb::make_tuple(err, why).ptr());
                throw pb::error_already_set();
            }
            std::vector<int> fds;
            for (const uring::datagram_socket& d : socks.value()) {
                fds.push_back(d.fd);
            }
            return fds;
        },
        pb::arg("host"), pb::arg("port"), pb::arg("count"),
        "`count` UDP sockets (fds) on host:port with SO_REUSEPORT, in the order they join the "
        "port's group (uring/listener.cpp's open_datagram_group: the server's own binding).");
    m.def(
        "steer_quic",
        [](int fd, unsigned total, const std::vector<unsigned>& live) {
            core::result<void> r = quic::attach_steering(fd, total, live);
            if (!r.ok()) {
                int err = r.sys_errno();
                std::string why =
                    r.error() == core::errc::invalid_argument
                        ? "a group of 1.." + std::to_string(quic::max_steered_sockets) + " sockets"
                        : std::string("the kernel refused the QUIC steering program: ") + std::strerror(err);
                PyErr_SetObject(PyExc_OSError, pb::make_tuple(err, why).ptr());
                throw pb::error_already_set();
            }
        },
        pb::arg("fd"), pb::arg("total"), pb::arg("live") = std::vector<unsigned>{},
        "Attach the QUIC steering program (quic/steering.hpp) to the SO_REUSEPORT group of UDP "
        "socket `fd`, of `total` sockets: a packet with one of our connection IDs goes to the "
        "socket at position dcid[0] % total, a new client's Initial to one of the `live` "
        "positions (empty: any).");
    m.def(
        "refuse_new_connections",
        [](int fd) {
            core::result<void> r = uring::refuse_new_connections(fd);
            if (!r.ok()) {
                int err = r.sys_errno();
                std::string why = r.error() == core::errc::invalid_argument
                                      ? "not a listening stream socket"
                                      : std::string("cannot refuse new connections: ") + std::strerror(err);
                PyErr_SetObject(PyExc_OSError, pb::make_tuple(err, why).ptr());
                throw pb::error_already_set();
            }
        },
        pb::arg("fd"),
        "A stop's first step on a listener (uring/listener.cpp): new clients are turned away "
        "while connections under way still reach the accept queue.");
    m.def("probe_io_uring", [] {
        pb::dict d;
        core::result<uring::ring_features> r = uring::probe_io_uring();
        d["available"] = r.ok();
        if (r.ok()) {
            const auto& f = r.value();
            d["tier"] = f.tier;
            d["defer_taskrun"] = f.defer_taskrun;
            d["coop_taskrun"] = f.coop_taskrun;
            d["ext_arg"] = f.ext_arg;
            d["multishot_accept"] = f.multishot_accept;
            d["multishot_recv"] = f.multishot_recv;
            d["buf_ring"] = f.buf_ring;
            d["recv_limit"] = f.recv_limit;
        } else {
            d["error"] = uring::describe_setup_failure(r.sys_errno()); // the words serve logs
        }
        return d;
    });
    pb::class_<native_server>(m, "Server")
        .def(pb::init<const pb::dict&>())
        .def("add_route", &native_server::add_route, pb::arg("pattern"), pb::arg("methods"), pb::arg("handler"),
             pb::arg("is_coroutine") = false, pb::arg("websocket") = false)
        .def("add_const_route", &native_server::add_const_route)
        .def("add_metrics_route", &native_server::add_metrics_route)
        .def("add_rate_limit", &native_server::add_rate_limit)
        .def("set_rate_limit", &native_server::set_rate_limit)
        .def("add_health_route", &native_server::add_health_route)
        .def("health_started", &native_server::health_started)
        .def("health_draining", &native_server::health_draining)
        .def("health_checks", &native_server::health_checks)
        .def("add_static", &native_server::add_static)
        .def("set_async_runner", &native_server::set_async_runner)
        .def("set_json_default", &native_server::set_json_default)
        .def("enable_compression", &native_server::enable_compression)
        .def("enable_cors", &native_server::enable_cors)
        .def("enable_request_id", &native_server::enable_request_id)
        .def("enable_security_headers", &native_server::enable_security_headers)
        .def("set_fallback", &native_server::set_fallback, pb::arg("handler"), pb::arg("is_coroutine"),
             pb::arg("streams_body") = true, pb::arg("websocket") = false)
        .def("metrics_text", &native_server::metrics_text)
        .def("start", &native_server::start)
        .def("wait", &native_server::wait)
        .def("stop", &native_server::stop)
        .def("stats", &native_server::stats)
        .def("request_limit_reached", &native_server::request_limit_reached)
        .def("reload_tls", &native_server::reload_tls)
        .def_property_readonly("tls", &native_server::tls)
        .def_property_readonly("port", &native_server::port);
    tls_py::init(m);
}

} // namespace ringbolt::py

PYBIND11_MODULE(_native, m) {
    m.doc() = "ringbolt's native core: io_uring reactors, HTTP/1.1, JSON.";
    if (ringbolt::py::init_request_type(m.ptr()) < 0) {
        throw pb::error_already_set();
    }
    if (ringbolt::py::init_tls_info_type(m.ptr()) < 0 || ringbolt::py::init_value_signer(m.ptr()) < 0 ||
        ringbolt::py::init_dependency_fast(m.ptr()) < 0) {
        throw pb::error_already_set();
    }
    if (ringbolt::py::init_wsgi_call(m.ptr()) < 0) {
        throw pb::error_already_set();
    }
    if (ringbolt::py::release_kept_lists_at_exit(m.ptr()) < 0) {
        throw pb::error_already_set();
    }
    ringbolt::py::init_json(m);
    ringbolt::py::init_runtime(m);
    ringbolt::py::init_forms(m);
}
