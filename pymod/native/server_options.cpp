#include "pymod/native/server_options.hpp"
#include "pymod/native/h3_libraries.hpp"

#include "core/strings.hpp"
#include "http/response_writer.hpp"
#include "quic/tls_session.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace ringbolt::py {

/// QUIC's GnuTLS credentials from the TLS listener's files; ValueError naming them.
std::shared_ptr<const quic::tls_credentials> load_quic_credentials(const tls::options& tls_options,
                                                                   const quic::resumption& r) {
    std::string error;
    std::shared_ptr<const quic::tls_credentials> c =
        quic::tls_credentials::load(tls_options.certfile, tls_options.keyfile, r, error);
    if (!c) {
        value_error("http3: " + error);
    }
    return c;
}

/// `server_header` (bool), `date_header` (bool) and `headers` ([(name, value), ...]):
/// what the framer adds to every response. A `Server` among `headers` replaces ours.
void read_server_fields(PyObject* c, http::server_fields& f) {
    bool server_header = get_opt<bool>(c, "server_header", true);
    f.date = get_opt<bool>(c, "date_header", true);
    f.extra.clear();
    auto headers = get_opt<std::vector<std::pair<std::string, std::string>>>(c, "headers", {});
    std::string server_line;
    for (const auto& [name, value] : headers) {
        if (!http::valid_field_name(name)) {
            value_error("invalid header name '" + name + "'");
        }
        if (!http::valid_field_value(value)) {
            value_error("invalid value for header '" + name + "' (CR, LF or NUL)");
        }
        std::string line = name + ": " + value + "\r\n";
        bool is_server = core::iequals(name, "server");
        (is_server ? server_line : f.extra) += line;
    }
    f.server = !server_line.empty() ? server_line : server_header ? std::string("Server: ringbolt\r\n") : std::string();
}

/// `http3` and its limits (`http3_max_streams`, `http3_idle_timeout` in seconds,
/// `http3_stream_window`, `http3_connection_window` in bytes, `http3_retry_above` Initials
/// a second, 0: always Retry, `http3_max_half_open` connections in their handshake past
/// which new clients are sent a Retry): QUIC on the UDP port of the
/// HTTPS listener, with GnuTLS credentials from the same certificate and key files.
void read_http3(PyObject* c, bool tls_on, const tls::options& tls_options, server::http3_config& h3) {
    if (!get_opt<bool>(c, "http3", false)) {
        return;
    }
    if (!tls_on) {
        value_error("http3 needs ssl_certfile and ssl_keyfile (--ssl-certfile, --ssl-keyfile): "
                    "HTTP/3 runs over QUIC, which is always TLS");
    }
    if (!tls_options.password.empty()) {
        value_error("http3: an encrypted ssl_keyfile (ssl_keyfile_password) is not supported for "
                    "HTTP/3 yet; use an unencrypted key");
    }
    quic::transport_config& t = h3.transport;
    uint64_t streams = get_opt<uint64_t>(c, "http3_max_streams", t.max_streams_bidi);
    if (streams == 0 || streams > 10'000) {
        value_error("http3_max_streams must be 1..10000, not " + std::to_string(streams));
    }
    t.max_streams_bidi = streams;
    double idle = get_opt<double>(c, "http3_idle_timeout", static_cast<double>(t.idle_timeout_ms) / 1000.0);
    if (!(idle >= 1.0 && idle <= 3600.0)) {
        value_error("http3_idle_timeout must be 1..3600 seconds");
    }
    t.idle_timeout_ms = static_cast<uint64_t>(idle * 1000.0);
    t.stream_window = get_opt<uint64_t>(c, "http3_stream_window", t.stream_window);
    t.connection_window = get_opt<uint64_t>(c, "http3_connection_window", t.connection_window);
    if (t.stream_window < 1024 || t.connection_window < t.stream_window) {
        value_error("http3_stream_window must be at least 1024 bytes and http3_connection_window at "
                    "least http3_stream_window");
    }
    uint64_t retry_above = get_opt<uint64_t>(c, "http3_retry_above", h3.retry_above_initials_per_second);
    if (retry_above > 10'000'000) {
        value_error("http3_retry_above must be 0..10000000, not " + std::to_string(retry_above));
    }
    h3.retry_above_initials_per_second = static_cast<uint32_t>(retry_above);
    uint64_t half_open = get_opt<uint64_t>(c, "http3_max_half_open", h3.max_half_open);
    if (half_open > 10'000'000) {
        value_error("http3_max_half_open must be 0..10000000, not " + std::to_string(half_open));
    }
    h3.max_half_open = static_cast<size_t>(half_open);
    t.max_buffered_bytes = std::max(t.max_buffered_bytes, t.connection_window);
    h3.early_data = get_opt<bool>(c, "http3_early_data", h3.early_data);
    // --http3-early-methods: which requests 0-RTT may carry (the rest get 425 Too Early).
    if (option_of(c, "http3_early_methods") != nullptr) {
        std::string early = get_opt<std::string>(c, "http3_early_methods", "");
        std::vector<std::string> methods;
        std::string bad;
        bool ok = core::for_each_list_element(early, [&](std::string_view m) {
            // (a token, RFC 9110 §9.1; CONNECT opens a tunnel, a WebSocket: never early)
            if (m.empty() || !http::valid_field_name(m) || m == "CONNECT") {
                bad = m;
                return false;
            }
            methods.emplace_back(m);
            return true;
        });
        if (!ok) {
            value_error("http3_early_methods: '" + bad +
                        "' is not a method 0-RTT may carry (a comma-separated list of methods such as "
                        "GET,HEAD,OPTIONS,TRACE; never CONNECT)");
        }
        h3.settings.early_methods = std::move(methods);
    }
    std::string cc = get_opt<std::string>(c, "http3_cc", quic::congestion_name(t.congestion));
    bool known = false;
    for (quic::congestion_control each :
         {quic::congestion_control::cubic, quic::congestion_control::bbr, quic::congestion_control::reno}) {
        if (cc == quic::congestion_name(each)) {
            t.congestion = each;
            known = true;
        }
    }
    if (!known) {
        value_error("http3_cc must be 'cubic', 'bbr' or 'reno', not '" + cc + "'");
    }
    // A supervisor's: the UDP sockets of this worker's slot, their group position, and
    // the secret every worker keys its stateless resets and Retry tokens with.
    h3.inherited_fds = get_opt<std::vector<int>>(c, "quic_fds", {});
    h3.first_position = get_opt<unsigned>(c, "quic_position", 0);
    std::string secret = get_opt<std::string>(c, "quic_secret", {});
    if (!secret.empty()) {
        if (secret.size() != h3.secret.size()) {
            value_error("quic_secret must be " + std::to_string(h3.secret.size()) + " bytes");
        }
        std::memcpy(h3.secret.data(), secret.data(), secret.size());
    }
    // The one way into quic/ and h3/: their libraries load here, not with the extension.
    if (std::string error; !load_http3_libraries(error)) {
        value_error("http3: HTTP/3 is unavailable: " + error);
    }
    // A supervisor's: the memory its workers remember 0-RTT ClientHellos in, so that a
    // replay is refused whichever worker it reaches (quic/replay_store.hpp).
    if (h3.early_data) {
        int replay_fd = get_opt<int>(c, "quic_replay_fd", -1);
        std::string error;
        h3.replay =
            replay_fd >= 0 ? quic::replay_store::map_shared(replay_fd, error) : quic::replay_store::make_private(error);
        if (!h3.replay) {
            value_error("http3: " + error);
        }
    }
    // After the secret: session tickets are keyed by it (a supervisor's workers resume
    // each other's sessions).
    h3.credentials = std::make_shared<quic::credentials_holder>(load_quic_credentials(tls_options, h3.resumption()));
    h3.enabled = true;
}

/// `http` ("auto", "1", "2"; 1 and 2 as ints too) and the older `http2` switch (False:
/// HTTP/1.1 only): which HTTP versions the listeners speak. ValueError for another
/// value, or for `http="2"` with `http2=False`.
http::http_versions read_http_versions(PyObject* c) {
    std::string http = "auto";
    if (PyObject* given = option_of(c, "http"); given != nullptr) {
        ref text(checked(PyObject_Str(given))); // 1 and 2 as ints too
        reader().read(text.get(), http);
    }
    bool http2 = get_opt<bool>(c, "http2", true);
    if (http == "auto") {
        return http2 ? http::http_versions::both : http::http_versions::http1;
    }
    if (http == "1") {
        return http::http_versions::http1;
    }
    if (http == "2") {
        if (!http2) {
            value_error("http='2' (HTTP/2 only) contradicts http2=False (--no-http2: HTTP/1.1 only)");
        }
        return http::http_versions::http2;
    }
    value_error("http must be 'auto', '1' or '2', not '" + http + "'");
}

void read_proxy_protocol(PyObject* c, server::server_config& cfg);

void read_server_config(PyObject* c, server::server_config& cfg) {
    cfg.host = get_opt<std::string>(c, "host", "127.0.0.1");
    cfg.port = get_opt<uint16_t>(c, "port", 8000);
    cfg.threads = get_opt<unsigned>(c, "threads", 0);
    cfg.limits.max_body = get_opt<uint64_t>(c, "max_body_size", cfg.limits.max_body);
    uint64_t rcvbuf = get_opt<uint64_t>(c, "body_receive_buffer", static_cast<uint64_t>(cfg.body_receive_buffer));
    if (rcvbuf > (1U << 30)) {
        value_error("body_receive_buffer must be at most 1 GiB (1073741824 bytes), not " + std::to_string(rcvbuf));
    }
    cfg.body_receive_buffer = static_cast<int>(rcvbuf);
    cfg.limits.parser.max_request_line = get_opt<size_t>(c, "max_request_line", cfg.limits.parser.max_request_line);
    cfg.limits.parser.max_head_bytes = get_opt<size_t>(c, "max_header_size", cfg.limits.parser.max_head_bytes);
    cfg.limits.parser.max_headers = get_opt<size_t>(c, "max_headers", cfg.limits.parser.max_headers);
    cfg.limits.header_timeout_s = get_opt<uint32_t>(c, "header_timeout", cfg.limits.header_timeout_s);
    cfg.limits.body_timeout_s = get_opt<uint32_t>(c, "body_timeout", cfg.limits.body_timeout_s);
    cfg.limits.min_body_rate = get_opt<uint32_t>(c, "min_body_rate", cfg.limits.min_body_rate);
    cfg.limits.keep_alive_timeout_s = get_opt<uint32_t>(c, "keep_alive_timeout", cfg.limits.keep_alive_timeout_s);
    cfg.graceful_timeout_s = get_opt<uint32_t>(c, "graceful_timeout", cfg.graceful_timeout_s);
    cfg.max_requests = get_opt<uint64_t>(c, "max_requests", 0); // App._serve: the limit with its jitter
    cfg.limits.write_timeout_s = get_opt<uint32_t>(c, "write_timeout", cfg.limits.write_timeout_s);
    cfg.pin_threads = get_opt<bool>(c, "pin_threads", cfg.pin_threads);
    std::string sched = get_opt<std::string>(c, "reactor_sched", "normal"); // App._build resolves "auto"
    if (sched != "normal" && sched != "batch") {
        value_error("reactor_sched must be 'auto', 'batch' or 'normal', not '" + sched + "'");
    }
    cfg.batch_scheduling = sched == "batch";
    cfg.host_loop = get_opt<bool>(c, "host_loop", false);
    // Settings of the environment, not options: the stand-in's wait (a measurement under
    // valgrind raises it, docs/cli.md) and the backend forced (tests, containers).
    if (const char* env = std::getenv("RINGBOLT_STANDIN_AFTER_MS"); env != nullptr && *env != '\0') {
        std::string_view text(env);
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cfg.standin_after_ms);
        if (ec != std::errc{} || end != text.data() + text.size() || cfg.standin_after_ms == 0) {
            value_error("RINGBOLT_STANDIN_AFTER_MS must be a number of milliseconds above 0, not '" +
                        std::string(text) + "'");
        }
    }
    cfg.backlog = get_opt<int>(c, "backlog", cfg.backlog);
    cfg.buffer_count = get_opt<unsigned>(c, "buffer_count", cfg.buffer_count);
    cfg.buffer_size = get_opt<unsigned>(c, "buffer_size", cfg.buffer_size);
    cfg.listen_fds = get_opt<std::vector<int>>(c, "listen_fds", {});
    cfg.owns_listen_fds = get_opt<bool>(c, "owns_listen_fds", false);
    cfg.cpu_offset = get_opt<int>(c, "cpu_offset", 0);
    cfg.io = get_opt<std::string>(c, "io", "auto");
    if (const char* env = std::getenv("RINGBOLT_IO"); env != nullptr && *env != '\0' && cfg.io == "auto") {
        cfg.io = env; // RINGBOLT_IO=epoll forces the fallback (tests, containers)
    }
    if (cfg.io != "auto" && cfg.io != "io_uring" && cfg.io != "epoll") {
        value_error("io must be 'auto', 'io_uring' or 'epoll', not '" + cfg.io + "'");
    }
    cfg.limit_connections = get_opt<uint32_t>(c, "limit_connections", 0);
    cfg.limit_concurrency = get_opt<uint32_t>(c, "limit_concurrency", 0);
    cfg.output_high_water = get_opt<size_t>(c, "output_high_water", cfg.output_high_water);
    if (cfg.limits.parser.max_headers > http::max_header_fields || cfg.limits.parser.max_headers == 0) {
        value_error("max_headers must be 1.." + std::to_string(http::max_header_fields));
    }
    if (cfg.limits.header_timeout_s == 0 || cfg.limits.keep_alive_timeout_s == 0 || cfg.limits.body_timeout_s == 0) {
        value_error("timeouts must be at least 1 second");
    }
    read_proxy_protocol(c, cfg);
}

// --proxy-protocol: which header versions, believed from --forwarded-allow-ips peers.
void read_proxy_protocol(PyObject* c, server::server_config& cfg) {
    std::string mode = get_opt<std::string>(c, "proxy_protocol", "off");
    if (mode == "off") {
        return;
    }
    if (mode == "v1") {
        cfg.proxy.policy.versions = transport::proxy_v1;
    } else if (mode == "v2") {
        cfg.proxy.policy.versions = transport::proxy_v2;
    } else if (mode == "any") {
        cfg.proxy.policy.versions = transport::proxy_any;
    } else {
        value_error("proxy_protocol must be 'off', 'v1', 'v2' or 'any', not '" + mode + "'");
    }
    cfg.proxy.policy.timeout_s = cfg.limits.header_timeout_s;
    std::string err = cfg.proxy.balancers.parse(get_opt<std::string>(c, "forwarded_allow_ips", "127.0.0.1"));
    if (!err.empty()) {
        value_error("forwarded_allow_ips: " + err);
    }
}

} // namespace ringbolt::py
