// The server owns the framing of every response (RFC 9112 §6): a response is a stream
// of events (start, body chunks, end with optional trailers) and this type turns them
// into bytes: Content-Length when the length is known, chunked otherwise on HTTP/1.1,
// close-delimited on HTTP/1.0; no body for HEAD, 1xx, 204 and 304. Handler headers
// reach it already checked (check_app_field), so framing is never said twice.
#pragma once

#include "core/output_queue.hpp"
#include "http/accept_encoding.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ringbolt::http {

struct response_features; // http/response_features.hpp

/// What the request allows of its response.
/// The small fields first, together: 48 bytes, no hole (an HTTP/1.1 connection's owed
/// entry holds one and fits two cache lines; http/http1_connection.hpp).
struct request_context {
    uint8_t version_minor = 1;
    bool head_request = false;
    bool keep_alive = true;                           ///< the request allows persistence (RFC 9112 §9.3)
    content_coding coding = content_coding::identity; ///< what Accept-Encoding lets us use
    /// The same choice for a whole body under tiny_body (http/body_encoder.hpp): the
    /// settings' small-body order (compression_settings::small_offered) among the codings
    /// the client weighs equally; identity exactly when `coding` is.
    content_coding small_coding = content_coding::identity;
    /// The application's response features (compression, CORS, request id, security
    /// headers); null when it enables none (then `coding`, `small_coding` and
    /// `extra_fields` are not used).
    const response_features* features = nullptr;
    std::string extra_fields; ///< per-request lines (CORS, request id) the framer adds
};

/// A response's start, as the application (or a native route) gives it.
/// 64 bytes: the small fields last, together (app_response holds one).
struct response_head {
    std::string fields;             ///< checked "Name: value\r\n" lines, no framing or Connection fields
    std::string_view static_fields; ///< used when `fields` is empty: static text (a bare Content-Type line)
    int64_t content_length = -1;    ///< the body's length when known; -1: stream it
    uint16_t status = 200;
    bool close = false;      ///< the application asked for Connection: close
    bool has_date = false;   ///< the application set Date: do not add ours
    bool has_server = false; ///< the application set Server: do not add ours
};

/// Fields the server adds to every response it frames (`ringbolt serve --header`,
/// `--no-server-header`, `--no-date-header`); set once at start-up.
struct server_fields {
    std::string server = "Server: ringbolt\r\n"; ///< the whole Server line; empty: none
    bool date = true;                            ///< add Date (unless the application set one)
    std::string extra;                           ///< checked "Name: value\r\n" lines for every response
};

/// How a handler-supplied header field is treated.
enum class field_action : uint8_t {
    keep,           ///< an ordinary field: goes to the wire as given
    drop,           ///< Transfer-Encoding / Connection: the server owns framing and persistence
    content_length, ///< a declared length (parsed into `declared`)
    bad_length,     ///< a Content-Length that is not a non-negative integer
};

/// Classify one handler header (name and value already valid tokens / field values).
/// Connection: close sets head.close; Date/Server set has_date/has_server.
field_action check_app_field(std::string_view name, std::string_view value, response_head& head,
                             int64_t& declared) noexcept;

enum class body_framing : uint8_t {
    none,        ///< no body on the wire (HEAD, 1xx/204/304)
    length,      ///< Content-Length
    chunked,     ///< Transfer-Encoding: chunked
    until_close, ///< HTTP/1.0 without a length: the close ends the body
};

/// Frames one response. Not copyable state of note: a few integers.
class response_framer {
  public:
    /// Serialize the head into `out` and decide the framing. `draining`: the server is
    /// shutting down, so the connection closes after this response (and says so).
    /// `server`: the fields the server adds (nullptr: Server: ringbolt and Date).
    void start(core::output_queue& out, const request_context& req, uint16_t status, std::string_view fields,
               int64_t content_length, bool app_close, std::string_view date, bool draining, bool has_date = false,
               bool has_server = false, const server_fields* server = nullptr) {
        frame(out, req, status, fields, content_length, app_close, date, draining, has_date, has_server, server, {});
    }
    void start(core::output_queue& out, const request_context& req, const response_head& h, std::string_view date,
               bool draining, const server_fields* server = nullptr) {
        start(out, req, h.status, h.fields, h.content_length, h.close, date, draining, h.has_date, h.has_server,
              server);
    }
    /// start() with Content-Length `body.size()` and body(body) in one: the body is copied
    /// into the same write as the head (a native answer, or an app's whole answer). end()
    /// follows as usual.
    void whole(core::output_queue& out, const request_context& req, uint16_t status, std::string_view fields,
               std::string_view body, bool app_close, std::string_view date, bool draining, bool has_date = false,
               bool has_server = false, const server_fields* server = nullptr) {
        frame(out, req, status, fields, static_cast<int64_t>(body.size()), app_close, date, draining, has_date,
              has_server, server, body);
    }

    /// Body bytes. False when they exceed the declared Content-Length (nothing written:
    /// the response cannot be completed correctly; the connection must close).
    bool body(core::output_queue& out, std::string_view bytes);
    bool body_owned(core::output_queue& out, std::string&& bytes, std::shared_ptr<core::send_credit> credit = nullptr);
    bool body_borrowed(core::output_queue& out, std::string_view bytes, std::shared_ptr<const void> keep,
                       std::shared_ptr<core::send_credit> credit = nullptr);
    bool body_file(core::output_queue& out, std::shared_ptr<core::file_handle> file, uint64_t offset, uint64_t length,
                   std::shared_ptr<core::send_credit> credit = nullptr);

    /// End of the body (`trailers`: "Name: value\r\n" lines, chunked only). False when
    /// fewer bytes than the declared length were given (the connection must close).
    bool end(core::output_queue& out, std::string_view trailers = {});

    body_framing framing() const noexcept { return _framing; }
    /// The connection closes after this response.
    bool closes() const noexcept { return _close; }
    uint16_t status() const noexcept { return _status; }

  private:
    void frame(core::output_queue& out, const request_context& req, uint16_t status, std::string_view fields,
               int64_t content_length, bool app_close, std::string_view date, bool draining, bool has_date,
               bool has_server, const server_fields* server, std::string_view body);
    bool admit(uint64_t n) noexcept; ///< length accounting; false when over
    void chunk_head(core::output_queue& out, uint64_t n);

    body_framing _framing = body_framing::none;
    bool _close = false;
    uint16_t _status = 0;
    uint64_t _remaining = 0; ///< length framing: bytes still owed
};

} // namespace ringbolt::http
