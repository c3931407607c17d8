// ringbolt._native.Server: the native server ringbolt.App drives (routes in, start, wait
// with signals, stop, stats), and the Python type that owns one.
#include "pymod/native/py_call.hpp"

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
#include "pymod/native/py_exception.hpp"
#include "pymod/native/py_type.hpp"
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

namespace ringbolt::py {

extern python_types g_types; // module.cpp

/// The router's mask for `methods`; names outside the parser's set (any RFC 9110 token:
/// PROPFIND, REPORT, PURGE, QUERY...) become method_other and are listed in `other`.
uint16_t method_mask(const std::vector<std::string>& methods, std::vector<std::string>* other = nullptr) {
    uint16_t mask = 0;
    for (const auto& m : methods) {
        const uint16_t bit = http::method_bit_of(m);
        if (bit == http::method_connect) {
            value_error("CONNECT cannot be routed (it names a host, not a path)");
        }
        if (bit != http::method_other) {
            mask |= bit;
            continue;
        }
        bool token = !m.empty() && std::all_of(m.begin(), m.end(), [](char c) {
            return http::chars::tchar[static_cast<unsigned char>(c)];
        });
        if (!token || other == nullptr) {
            value_error("invalid method '" + m + "': a method is an RFC 9110 token such as GET or PROPFIND");
        }
        mask |= http::method_other;
        other->push_back(m);
    }
    if (mask == 0) {
        value_error("a route needs at least one method");
    }
    return mask;
}

class native_server {
  public:
    explicit native_server(PyObject* c) {
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
            value_error(access_error);
        }
        if (get_opt<bool>(c, "proxy_headers", false)) {
            std::string err = _routes->proxies.parse(get_opt<std::string>(c, "forwarded_allow_ips", "127.0.0.1"));
            if (!err.empty()) {
                value_error(err);
            }
        }
        std::string conventions = get_opt<std::string>(c, "conventions", "ringbolt");
        if (conventions == "fastapi") {
            _routes->errors = &dispatch::detail_errors;
            _routes->preflight = &dispatch::starlette_preflight;
            _bridge->set_detail_errors(true);
        } else if (conventions != "ringbolt") {
            value_error("conventions must be 'ringbolt' or 'fastapi', not '" + conventions + "'");
        }
        _routes->redirect_slashes = get_opt<bool>(c, "redirect_slashes", false);
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
            gil_released unlocked; // reactors and handler threads take the GIL on exit
            _server->stop();
            _server->join();
            _bridge->stop_pool();
            _server.reset();
        }
    }

    /// Returns the route's id (for set_rate_limit).
    uint32_t add_route(const std::string& pattern, const std::vector<std::string>& methods, PyObject* handler,
                       bool is_coroutine, bool websocket, bool websocket_only) {
        check_not_started();
        uint32_t id = static_cast<uint32_t>(_routes->targets.size());
        dispatch::route_target t;
        std::string err = _routes->table.add(pattern, method_mask(methods, &t.other_methods), id);
        if (!err.empty()) {
            value_error(err);
        }
        ref names(param_names(id));
        t.kind = dispatch::target_kind::python;
        t.pattern = pattern;
        t.handler = _bridge->add_handler(handler, names.get(), is_coroutine);
        t.streams_body = is_coroutine; // async handlers may take large bodies as they arrive
        t.websocket = websocket;       // a WebSocket endpoint: handshakes, and plain requests too unless only
        t.websocket_only = websocket && websocket_only; // (else 426)
        _routes->targets.push_back(std::move(t));
        return id;
    }

    uint32_t add_const_route(const std::string& pattern, const std::vector<std::string>& methods, PyObject* result) {
        check_not_started();
        response_parts parts;
        http::response_head head;
        ringbolt::py::json_default_scope json_default(_bridge->json_default());
        if (!ringbolt::py::convert_result(result, g_types, parts) || !ringbolt::py::build_head(parts, head)) {
            throw py_raised{};
        }
        if (parts.source != response_parts::body_source::bytes) {
            value_error("a const route must return a whole body, not a streamed or file response");
        }
        uint32_t id = static_cast<uint32_t>(_routes->targets.size());
        std::string err = _routes->table.add(pattern, method_mask(methods), id);
        if (!err.empty()) {
            value_error(err);
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
    uint32_t set_fallback(PyObject* handler, bool is_coroutine, bool streams_body, bool websocket) {
        check_not_started();
        if (_routes->fallback != dispatch::no_fallback) {
            value_error("the server already has a fallback handler");
        }
        dispatch::route_target t;
        t.kind = dispatch::target_kind::python;
        t.pattern = "*";
        ref no_names(checked(PyTuple_New(0)));
        t.handler = _bridge->add_handler(handler, no_names.get(), is_coroutine);
        t.streams_body = streams_body;       // large/chunked bodies reach the app as they arrive
        t.watches_disconnect = is_coroutine; // ASGI: http.disconnect while the app runs
        t.websocket = websocket;             // ASGI: handshakes become websocket scopes
        _routes->fallback = static_cast<uint32_t>(_routes->targets.size());
        _routes->targets.push_back(std::move(t));
        return _routes->fallback;
    }

    /// app.rate_limit / a route's rate_limit= (dispatch/rate_limit.hpp): a limit of `limit`
    /// requests per `window_ms`, an IPv6 client keyed on its first `ipv6_prefix` bits;
    /// returns its id for set_rate_limit. Its table is mapped at start, from the
    /// supervisor's memfd (`rate_limit_fd`) when there is one.
    uint32_t add_rate_limit(uint32_t limit, uint64_t window_ms, const std::string& algorithm, const std::string& key,
                            const std::string& header, bool send_headers, uint64_t table_size, uint32_t ipv6_prefix) {
        check_not_started();
        dispatch::rate_policy p;
        if (limit == 0 || limit > dispatch::max_rate_limit) {
            value_error("a rate limit allows 1 to " + std::to_string(dispatch::max_rate_limit) +
                        " requests a window, not " + std::to_string(limit));
        }
        if (window_ms == 0 || window_ms > dispatch::max_rate_window_ms) {
            value_error("a rate limit's window is 1 ms to 366 days");
        }
        if (algorithm == "sliding_window") {
            p.algorithm = dispatch::rate_algorithm::sliding_window;
        } else if (algorithm == "token_bucket") {
            p.algorithm = dispatch::rate_algorithm::token_bucket;
        } else {
            value_error("a rate limit's algorithm is 'sliding_window' or 'token_bucket', not '" + algorithm + "'");
        }
        if (key == "client") {
            p.key = dispatch::rate_key::client;
        } else if (key == "header" && !header.empty()) {
            p.key = dispatch::rate_key::header;
            p.header = header;
        } else {
            value_error("a rate limit's key is 'client' or 'header' with a header name");
        }
        if (table_size < dispatch::rate_bucket || table_size > (uint64_t{1} << 28)) {
            value_error("a rate limit's table_size is 8 to 2**28 keys");
        }
        if (ipv6_prefix < 16 || ipv6_prefix > 128) {
            value_error("a rate limit's ipv6_prefix is 16 to 128 bits, not " + std::to_string(ipv6_prefix));
        }
        p.ipv6_prefix = static_cast<uint8_t>(ipv6_prefix);
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
            value_error("set_rate_limit: no such route or rate limit");
        }
        _routes->targets[route].rate_limit = _routes->rate_limits[limit].get();
    }

    void set_async_runner(PyObject* runner) { _bridge->set_async_runner(runner); }
    void set_json_default(PyObject* fn) { _bridge->set_json_default(fn == Py_None ? nullptr : fn); }

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
            value_error(err);
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
            value_error("a health probe is 'live', 'ready' or 'startup', not '" + kind + "'");
        }
        uint32_t id = static_cast<uint32_t>(_routes->targets.size());
        std::string err = _routes->table.add(pattern, http::method_get, id);
        if (!err.empty()) {
            value_error(err);
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
            value_error(err);
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

    PyObject* start() {
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
            gil_released unlocked;
            r = _server->start();
        }
        if (!r.ok()) {
            {
                gil_released unlocked;
                _bridge->stop_pool();
            }
            std::string msg = _server->error_message();
            int err = r.sys_errno();
            _server.reset();
            if (r.error() == core::errc::bind_failed) {
                os_error(err, msg);
            }
            throw std::runtime_error(msg);
        }
        ref info(checked(PyDict_New()));
        put_item(info.get(), "port", PyLong_FromLong(_server->port()));
        put_item(info.get(), "threads", PyLong_FromUnsignedLong(_server->threads()));
        put_item(info.get(), "io", str_of(_server->io_description()));
        put_item(info.get(), "http3_cc",
                 str_of(std::string(quic::congestion_name(_server->config().http3.transport.congestion))));
        return info.release();
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
                gil_released unlocked;
                done = _server->wait_exit(100);
            }
            if (done) {
                break;
            }
            if (PyErr_CheckSignals() < 0) {
                PyObject* raised = take_exception(); // a signal handler's: it stops the server
                {
                    gil_released unlocked;
                    _server->stop();
                    _server->join();
                    _bridge->stop_pool();
                }
                restore_exception(raised);
                throw py_raised{};
            }
        }
        gil_released unlocked;
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

    PyObject* stats() {
        ref out(checked(PyList_New(0)));
        if (!_server) {
            return out.release();
        }
        for (const auto& r : _server->reactors()) {
            ref d(checked(PyDict_New()));
            auto& c = r->counters();
#define RINGBOLT_STAT(name) put_item(d.get(), #name, PyLong_FromUnsignedLongLong(c.name.get()));
            RINGBOLT_CORE_COUNTERS(RINGBOLT_STAT)
#undef RINGBOLT_STAT
            if (PyList_Append(out.get(), d.get()) < 0) {
                throw py_raised{};
            }
        }
        return out.release();
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
            value_error("the server does not serve TLS");
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
            value_error(err);
        }
    }

    PyObject* param_names(uint32_t id) {
        const auto& names = _routes->table.param_names(id);
        ref t(checked(PyTuple_New(static_cast<Py_ssize_t>(names.size()))));
        for (size_t i = 0; i < names.size(); ++i) {
            PyTuple_SET_ITEM(t.get(), static_cast<Py_ssize_t>(i),
                             checked(PyUnicode_InternFromString(names[i].c_str())));
        }
        return t.release();
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

// ---- ringbolt._native.Server: a native_server owned by a Python object ----

struct server_object {
    PyObject_HEAD native_server* impl;
};

native_server& server_of(PyObject* self) {
    native_server* s = reinterpret_cast<server_object*>(self)->impl;
    if (s == nullptr) {
        raise_as(PyExc_RuntimeError, "Server.__init__ was not called");
    }
    return *s;
}

int server_init(PyObject* self, PyObject* args, PyObject* kwargs) {
    PyObject* done = guarded([&]() -> PyObject* {
        if (PyTuple_GET_SIZE(args) != 1 || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) ||
            !PyDict_Check(PyTuple_GET_ITEM(args, 0))) {
            type_error("Server(config) takes one dict");
        }
        auto made = std::make_unique<native_server>(PyTuple_GET_ITEM(args, 0));
        server_object* o = reinterpret_cast<server_object*>(self);
        delete o->impl;
        o->impl = made.release();
        Py_RETURN_NONE;
    });
    Py_XDECREF(done);
    return done != nullptr ? 0 : -1;
}

void server_dealloc(PyObject* self) {
    delete reinterpret_cast<server_object*>(self)->impl; // stops a server still running
    Py_TYPE(self)->tp_free(self);
}

PyObject* none() {
    Py_RETURN_NONE;
}

PyObject* id_of(uint32_t id) {
    return checked(PyLong_FromUnsignedLong(id));
}

template <class T> T opt_arg(PyObject* o, const char* name, T fallback) {
    return o != nullptr ? arg_as<T>(o, name) : fallback;
}

using strings = std::vector<std::string>;

/// A Server method's call: `body(server, a)` with the arguments matched to `names` (the
/// first `required` of them needed, the others null when not given).
template <size_t N, class F>
PyObject* server_call(const char* fn, const char* const (&names)[N], size_t required, PyObject* self,
                      PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, F&& body) {
    return guarded([&] {
        PyObject* a[N];
        bind_args(fn, names, required, args, nargs, kwnames, a);
        return body(server_of(self), a);
    });
}

#define RINGBOLT_FASTCALL(name)                                                                                        \
    PyObject* name(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames)

RINGBOLT_FASTCALL(server_add_route) {
    static const char* const names[] = {"pattern", "methods", "handler", "is_coroutine", "websocket", "websocket_only"};
    return server_call("add_route", names, 3, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        return id_of(s.add_route(arg_as<std::string>(a[0], names[0]), arg_as<strings>(a[1], names[1]), a[2],
                                 opt_arg(a[3], names[3], false), opt_arg(a[4], names[4], false),
                                 opt_arg(a[5], names[5], true)));
    });
}

RINGBOLT_FASTCALL(server_add_const_route) {
    static const char* const names[] = {"pattern", "methods", "result"};
    return server_call("add_const_route", names, 3, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        return id_of(s.add_const_route(arg_as<std::string>(a[0], names[0]), arg_as<strings>(a[1], names[1]), a[2]));
    });
}

RINGBOLT_FASTCALL(server_set_fallback) {
    static const char* const names[] = {"handler", "is_coroutine", "streams_body", "websocket"};
    return server_call("set_fallback", names, 2, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        return id_of(s.set_fallback(a[0], arg_as<bool>(a[1], names[1]), opt_arg(a[2], names[2], true),
                                    opt_arg(a[3], names[3], false)));
    });
}

RINGBOLT_FASTCALL(server_add_rate_limit) {
    static const char* const names[] = {"limit",  "window_ms",    "algorithm",  "key",
                                        "header", "send_headers", "table_size", "ipv6_prefix"};
    return server_call("add_rate_limit", names, 7, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        return id_of(s.add_rate_limit(arg_as<uint32_t>(a[0], names[0]), arg_as<uint64_t>(a[1], names[1]),
                                      arg_as<std::string>(a[2], names[2]), arg_as<std::string>(a[3], names[3]),
                                      arg_as<std::string>(a[4], names[4]), arg_as<bool>(a[5], names[5]),
                                      arg_as<uint64_t>(a[6], names[6]), opt_arg(a[7], names[7], uint32_t{64})));
    });
}

RINGBOLT_FASTCALL(server_set_rate_limit) {
    static const char* const names[] = {"route", "limit"};
    return server_call("set_rate_limit", names, 2, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.set_rate_limit(arg_as<uint32_t>(a[0], names[0]), arg_as<uint32_t>(a[1], names[1]));
        return none();
    });
}

RINGBOLT_FASTCALL(server_add_static) {
    static const char* const names[] = {"prefix", "directory", "index", "cache_control", "precompressed", "dotfiles"};
    return server_call("add_static", names, 6, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.add_static(arg_as<std::string>(a[0], names[0]), arg_as<std::string>(a[1], names[1]),
                     arg_as<std::string>(a[2], names[2]), arg_as<std::string>(a[3], names[3]),
                     arg_as<bool>(a[4], names[4]), arg_as<bool>(a[5], names[5]));
        return none();
    });
}

RINGBOLT_FASTCALL(server_enable_compression) {
    static const char* const names[] = {"min_size", "algorithms", "levels", "exclude_types"};
    return server_call("enable_compression", names, 4, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.enable_compression(arg_as<uint64_t>(a[0], names[0]), arg_as<strings>(a[1], names[1]),
                             arg_as<std::vector<int>>(a[2], names[2]), arg_as<strings>(a[3], names[3]));
        return none();
    });
}

RINGBOLT_FASTCALL(server_enable_cors) {
    static const char* const names[] = {"origins", "methods", "headers", "credentials", "expose", "max_age"};
    return server_call("enable_cors", names, 6, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.enable_cors(arg_as<strings>(a[0], names[0]), arg_as<strings>(a[1], names[1]), arg_as<strings>(a[2], names[2]),
                      arg_as<bool>(a[3], names[3]), arg_as<strings>(a[4], names[4]), arg_as<int64_t>(a[5], names[5]));
        return none();
    });
}

RINGBOLT_FASTCALL(server_enable_request_id) {
    static const char* const names[] = {"header"};
    return server_call("enable_request_id", names, 1, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.enable_request_id(arg_as<std::string>(a[0], names[0]));
        return none();
    });
}

RINGBOLT_FASTCALL(server_enable_security_headers) {
    static const char* const names[] = {"fields"};
    return server_call(
        "enable_security_headers", names, 1, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
            s.enable_security_headers(arg_as<std::vector<std::pair<std::string, std::string>>>(a[0], names[0]));
            return none();
        });
}

RINGBOLT_FASTCALL(server_add_metrics_route) {
    static const char* const names[] = {"pattern"};
    return server_call("add_metrics_route", names, 1, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.add_metrics_route(arg_as<std::string>(a[0], names[0]));
        return none();
    });
}

RINGBOLT_FASTCALL(server_add_health_route) {
    static const char* const names[] = {"pattern", "kind"};
    return server_call("add_health_route", names, 2, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.add_health_route(arg_as<std::string>(a[0], names[0]), arg_as<std::string>(a[1], names[1]));
        return none();
    });
}

RINGBOLT_FASTCALL(server_health_checks) {
    static const char* const names[] = {"passed", "checks_json"};
    return server_call("health_checks", names, 2, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.health_checks(arg_as<bool>(a[0], names[0]), arg_as<std::string>(a[1], names[1]));
        return none();
    });
}

RINGBOLT_FASTCALL(server_set_async_runner) {
    static const char* const names[] = {"runner"};
    return server_call("set_async_runner", names, 1, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.set_async_runner(a[0]);
        return none();
    });
}

RINGBOLT_FASTCALL(server_set_json_default) {
    static const char* const names[] = {"fn"};
    return server_call("set_json_default", names, 1, self, args, nargs, kwnames, [&](native_server& s, PyObject** a) {
        s.set_json_default(a[0]);
        return none();
    });
}

#undef RINGBOLT_FASTCALL

/// A Server method of no arguments: `body(server)`'s result.
template <class F> PyObject* server_noargs(PyObject* self, F&& body) {
    return guarded([&] { return body(server_of(self)); });
}

PyObject* server_health_started(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) {
        s.health_started();
        return none();
    });
}
PyObject* server_health_draining(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) {
        s.health_draining();
        return none();
    });
}
PyObject* server_metrics_text(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) { return str_of(s.metrics_text()); });
}
PyObject* server_start(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) { return s.start(); });
}
PyObject* server_wait(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) {
        s.wait();
        return none();
    });
}
PyObject* server_stop(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) {
        s.stop();
        return none();
    });
}
PyObject* server_stats(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) { return s.stats(); });
}
PyObject* server_request_limit_reached(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) {
        std::optional<uint64_t> n = s.request_limit_reached();
        return n ? checked(PyLong_FromUnsignedLongLong(*n)) : none();
    });
}
PyObject* server_reload_tls(PyObject* self, PyObject*) {
    return server_noargs(self, [](native_server& s) {
        s.reload_tls();
        return none();
    });
}
PyObject* server_tls(PyObject* self, void*) {
    return server_noargs(self, [](native_server& s) { return PyBool_FromLong(s.tls()); });
}
PyObject* server_port(PyObject* self, void*) {
    return server_noargs(self, [](native_server& s) { return checked(PyLong_FromLong(s.port())); });
}

PyMethodDef server_methods[] = {
    method("add_route", fastcall<&server_add_route>(), fastcall_kw,
           "add_route(pattern, methods, handler, is_coroutine=False, websocket=False, websocket_only=True): the "
           "route's id (websocket_only=False: its handler takes the path's plain requests too, req._websocket "
           "telling them apart)."),
    method("add_const_route", fastcall<&server_add_const_route>(), fastcall_kw,
           "add_const_route(pattern, methods, result): a route answered natively with `result`, made once."),
    method("add_metrics_route", fastcall<&server_add_metrics_route>(), fastcall_kw, "add_metrics_route(pattern)."),
    method("add_rate_limit", fastcall<&server_add_rate_limit>(), fastcall_kw,
           "add_rate_limit(limit, window_ms, algorithm, key, header, send_headers, table_size, "
           "ipv6_prefix=64): its id."),
    method("set_rate_limit", fastcall<&server_set_rate_limit>(), fastcall_kw,
           "set_rate_limit(route, limit): the route counts against the rate limit."),
    method("add_health_route", fastcall<&server_add_health_route>(), fastcall_kw,
           "add_health_route(pattern, kind): a probe ('live', 'ready' or 'startup') answered natively."),
    method("health_started", server_health_started, METH_NOARGS,
           "The startup hooks and lifespan have completed: startup and ready may answer 200."),
    method("health_draining", server_health_draining, METH_NOARGS, "Ready answers 503 from now on."),
    method("health_checks", fastcall<&server_health_checks>(), fastcall_kw,
           "health_checks(passed, checks_json): the user checks' last results."),
    method("add_static", fastcall<&server_add_static>(), fastcall_kw,
           "add_static(prefix, directory, index, cache_control, precompressed, dotfiles): files answered natively."),
    method("set_async_runner", fastcall<&server_set_async_runner>(), fastcall_kw, "set_async_runner(runner)."),
    method("set_json_default", fastcall<&server_set_json_default>(), fastcall_kw, "set_json_default(fn or None)."),
    method("enable_compression", fastcall<&server_enable_compression>(), fastcall_kw,
           "enable_compression(min_size, algorithms, levels, exclude_types)."),
    method("enable_cors", fastcall<&server_enable_cors>(), fastcall_kw,
           "enable_cors(origins, methods, headers, credentials, expose, max_age)."),
    method("enable_request_id", fastcall<&server_enable_request_id>(), fastcall_kw, "enable_request_id(header)."),
    method("enable_security_headers", fastcall<&server_enable_security_headers>(), fastcall_kw,
           "enable_security_headers([(name, value), ...])."),
    method("set_fallback", fastcall<&server_set_fallback>(), fastcall_kw,
           "set_fallback(handler, is_coroutine, streams_body=True, websocket=False): the handler of every request no "
           "route matches."),
    method("metrics_text", server_metrics_text, METH_NOARGS, "The metrics in Prometheus' text format."),
    method("start", server_start, METH_NOARGS, "Start the reactors: {port, threads, io, http3_cc}."),
    method("wait", server_wait, METH_NOARGS,
           "Block until the server has stopped; a signal handler's exception stops it and propagates."),
    method("stop", server_stop, METH_NOARGS, "Begin the stop (the drain)."),
    method("stats", server_stats, METH_NOARGS, "Each reactor's counters, a dict each."),
    method("request_limit_reached", server_request_limit_reached, METH_NOARGS,
           "The requests counted when max_requests was reached, or None."),
    method("reload_tls", server_reload_tls, METH_NOARGS,
           "New certificates and keys for new connections; ValueError (the old ones stay) when the files are bad."),
    methods_end,
};

PyGetSetDef server_getset[] = {
    property("tls", server_tls, "Whether the server serves TLS."),
    property("port", server_port, "The port it listens on (0 before start)."),
    properties_end,
};

PyTypeObject server_type = class_type("ringbolt._native.Server", sizeof(server_object),
                                      "Server(config: dict): the native server ringbolt.App drives.", server_dealloc,
                                      server_init, server_methods, server_getset);

/// Ready the Server type and add it to `module`; -1 with an exception set.
int init_server_type(PyObject* module) {
    return ready_native_type(server_type, module, "Server") ? 0 : -1;
}

} // namespace ringbolt::py
