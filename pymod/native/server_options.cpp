#include "pymod/native/server_options.hpp"

#include "core/strings.hpp"
#include "http/response_writer.hpp"
#include "quic/tls_session.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace ringbolt::py_module {

/// QUIC's GnuTLS credentials from the TLS listener's files; ValueError naming them.
std::shared_ptr<const quic::tls_credentials> load_quic_credentials(const tls::options& tls_options) {
    std::string error;
    std::shared_ptr<const quic::tls_credentials> c =
        quic::tls_credentials::load(tls_options.certfile, tls_options.keyfile, error);
    if (!c) {
        throw pb::value_error("http3: " + error);
    }
    return c;
}

/// `server_header` (bool), `date_header` (bool) and `headers` ([(name, value), ...]):
/// what the framer adds to every response. A `Server` among `headers` replaces ours.
void read_server_fields(const pb::dict& c, http::server_fields& f) {
    bool server_header = get_opt<bool>(c, "server_header", true);
    f.date = get_opt<bool>(c, "date_header", true);
    f.extra.clear();
    auto headers = get_opt<std::vector<std::pair<std::string, std::string>>>(c, "headers", {});
    std::string server_line;
    for (const auto& [name, value] : headers) {
        if (!http::valid_field_name(name)) {
            throw pb::value_error("invalid header name '" + name + "'");
        }
        if (!http::valid_field_value(value)) {
            throw pb::value_error("invalid value for header '" + name + "' (CR, LF or NUL)");
        }
        std::string line = name + ": " + value + "\r\n";
        bool is_server = iequals(name, "server");
        (is_server ? server_line : f.extra) += line;
    }
    f.server = !server_line.empty() ? server_line : server_header ? std::string("Server: ringbolt\r\n") : std::string();
}

/// `http3` and its limits (`http3_max_streams`, `http3_idle_timeout` in seconds,
/// `http3_stream_window`, `http3_connection_window` in bytes, `http3_retry_above` Initials
/// a second, 0: always Retry): QUIC on the UDP port of the
/// HTTPS listener, with GnuTLS credentials from the same certificate and key files.
void read_http3(const pb::dict& c, bool tls_on, const tls::options& tls_options, uring::http3_config& h3) {
    if (!get_opt<bool>(c, "http3", false)) {
        return;
    }
    if (!tls_on) {
        throw pb::value_error("http3 needs ssl_certfile and ssl_keyfile (--ssl-certfile, --ssl-keyfile): "
                              "HTTP/3 runs over QUIC, which is always TLS");
    }
    if (!tls_options.password.empty()) {
        throw pb::value_error("http3: an encrypted ssl_keyfile (ssl_keyfile_password) is not supported for "
                              "HTTP/3 yet; use an unencrypted key");
    }
    quic::transport_config& t = h3.transport;
    uint64_t streams = get_opt<uint64_t>(c, "http3_max_streams", t.max_streams_bidi);
    if (streams == 0 || streams > 10'000) {
        throw pb::value_error("http3_max_streams must be 1..10000, not " + std::to_string(streams));
    }
    t.max_streams_bidi = streams;
    double idle = get_opt<double>(c, "http3_idle_timeout", static_cast<double>(t.idle_timeout_ms) / 1000.0);
    if (!(idle >= 1.0 && idle <= 3600.0)) {
        throw pb::value_error("http3_idle_timeout must be 1..3600 seconds");
    }
    t.idle_timeout_ms = static_cast<uint64_t>(idle * 1000.0);
    t.stream_window = get_opt<uint64_t>(c, "http3_stream_window", t.stream_window);
    t.connection_window = get_opt<uint64_t>(c, "http3_connection_window", t.connection_window);
    if (t.stream_window < 1024 || t.connection_window < t.stream_window) {
        throw pb::value_error("http3_stream_window must be at least 1024 bytes and http3_connection_window at "
                              "least http3_stream_window");
    }
    uint64_t retry_above = get_opt<uint64_t>(c, "http3_retry_above", h3.retry_above_initials_per_second);
    if (retry_above > 10'000'000) {
        throw pb::value_error("http3_retry_above must be 0..10000000, not " + std::to_string(retry_above));
    }
    h3.retry_above_initials_per_second = static_cast<uint32_t>(retry_above);
    t.max_stream_window = std::max(t.max_stream_window, t.stream_window);
    t.max_buffered_bytes = std::max(t.max_buffered_bytes, t.connection_window);
    h3.credentials = std::make_shared<quic::credentials_holder>(load_quic_credentials(tls_options));
    // A supervisor's: the UDP sockets of this worker's slot, their group position, and
    // the secret every worker keys its stateless resets and Retry tokens with.
    h3.inherited_fds = get_opt<std::vector<int>>(c, "quic_fds", {});
    h3.first_position = get_opt<unsigned>(c, "quic_position", 0);
    std::string secret = get_opt<std::string>(c, "quic_secret", {});
    if (!secret.empty()) {
        if (secret.size() != h3.secret.size()) {
            throw pb::value_error("quic_secret must be " + std::to_string(h3.secret.size()) + " bytes");
        }
        std::memcpy(h3.secret.data(), secret.data(), secret.size());
    }
    h3.enabled = true;
}

/// `http` ("auto", "1", "2"; 1 and 2 as ints too) and the older `http2` switch (False:
/// HTTP/1.1 only): which HTTP versions the listeners speak. ValueError for another
/// value, or for `http="2"` with `http2=False`.
http::http_versions read_http_versions(const pb::dict& c) {
    std::string http = "auto";
    if (c.contains("http") && !c["http"].is_none()) {
        http = pb::str(c["http"]).cast<std::string>();
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
            throw pb::value_error("http='2' (HTTP/2 only) contradicts http2=False (--no-http2: HTTP/1.1 only)");
        }
        return http::http_versions::http2;
    }
    throw pb::value_error("http must be 'auto', '1' or '2', not '" + http + "'");
}

} // namespace ringbolt::py_module
