// One client connection's HTTP/1.1 state machine, independent of any I/O backend:
// bytes in (on_data), parsed requests out (to the app batch or answered natively),
// response bytes out (output()), in request order even when pipelined, plus the
// deadlines that the reactor's timeout sweep enforces.
#pragma once

#include "core/counters.hpp"
#include "core/histogram.hpp"
#include "http/app_request.hpp"
#include "http/app_routes.hpp"
#include "http/chunked.hpp"
#include "http/parser.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::http {

struct connection_limits {
    parser_limits parser;
    uint64_t max_body = 16 * 1024 * 1024;
    uint32_t header_timeout_s = 10;    ///< first byte of a head to its end
    uint32_t body_timeout_s = 30;      ///< between two reads of a body
    uint32_t keep_alive_timeout_s = 5; ///< idle between requests
};

/// What a connection needs from its reactor while it processes bytes.
struct conn_env {
    const app_routes& routes;
    const connection_limits& limits;
    std::string_view date;           ///< cached Date header value
    uint32_t now_s;                  ///< coarse monotonic seconds
    bool draining;                   ///< server is shutting down: answer with Connection: close
    std::vector<app_request>& batch; ///< requests for the application, filled by on_data
    core_counters& counters;
    const metrics_source* metrics = nullptr;      ///< renders target_kind::metrics routes
    std::atomic<uint32_t>* app_pending = nullptr; ///< requests handed to the app, process-wide
    uint32_t app_limit = 0;                       ///< above this many pending: 503 (0 = no limit)
    latency_histogram* route_latency = nullptr;   ///< per route id, when metrics are on
    size_t output_limit = SIZE_MAX;               ///< stop parsing while this much output is unsent (backpressure)
};

/// Pipelined requests handed to the application per connection before parsing pauses.
inline constexpr size_t max_outstanding_per_connection = 64;

class connection {
  public:
    /// Start serving a freshly accepted socket.
    void open(uint32_t slot, uint32_t gen, const peer_address& peer, uint32_t now_s, const connection_limits& lim);

    /// Feed received bytes. Complete requests are answered natively (into output())
    /// or appended to env.batch. Returns false when the bytes were ignored because
    /// the connection is already closing.
    bool on_data(std::string_view data, conn_env& env);

    /// Parse what is waiting in the tail (after backpressure or an app answer let it).
    void pump(conn_env& env);
    /// Bytes received but not parsed yet because of backpressure.
    bool has_pending_input() const noexcept { return _held_back && !_closing; }

    /// Deliver the application's response for request `r.seq`.
    void on_app_response(app_response&& r, conn_env& env);

    /// The deadline passed (checked once per second by the reactor). Writes 408 when a
    /// request was partly received; either way the connection then closes.
    void on_timeout(conn_env& env);

    /// Stop keeping the connection alive (server draining). Returns true when it is
    /// idle after having served a request and can be closed right away. A connection
    /// that has not sent its first request yet gets `grace_s` to send it (it was
    /// accepted before the drain: closing it unanswered would fail that request).
    bool begin_drain(uint32_t now_s, uint32_t grace_s = 1);

    std::string& output() noexcept { return _out; }
    bool has_output() const noexcept { return !_out.empty(); }
    /// After the current output is sent, close the connection.
    bool close_after_flush() const noexcept { return _closing && _outstanding == 0 && _held.empty(); }
    /// No request in progress and nothing owed: safe to close on drain or idle timeout.
    bool idle() const noexcept { return _tail.empty() && _outstanding == 0 && _held.empty() && _out.empty(); }
    /// Every response owed has been written to output() (a partial request may remain:
    /// after the peer's EOF it can never complete).
    bool nothing_owed() const noexcept { return _outstanding == 0 && _held.empty() && _out.empty() && !_held_back; }
    uint32_t deadline() const noexcept { return _deadline; }
    uint32_t slot() const noexcept { return _slot; }
    uint32_t gen() const noexcept { return _gen; }
    bool closing() const noexcept { return _closing; }
    size_t outstanding() const noexcept { return _outstanding; }

    /// Drop all state and free memory (connection closed).
    void release();

  private:
    enum class phase : uint8_t { head, body_length, body_chunked, closed };

    size_t process(std::string_view buf, conn_env& env);
    void consume_tail(conn_env& env); ///< process the tail, drop what was used
    void finish_request(const request_head& head, std::string_view head_bytes, std::string_view body, conn_env& env);
    void expect_continue(const request_head& head, conn_env& env);
    void emit(uint64_t seq, std::string&& bytes, bool close, uint16_t status, conn_env& env);
    void emit_error(http_error err, conn_env& env);
    void append_in_order(uint64_t seq, std::string&& bytes, bool close);
    void set_idle_deadline(const conn_env& env);

    uint32_t _slot = 0;
    uint32_t _gen = 0;
    peer_address _peer;
    phase _phase = phase::head;
    bool _closing = false; ///< no further request is read; close once output is sent
    bool _draining = false;
    bool _held_back = false;  ///< parsing stopped by backpressure, requests wait in _tail
    uint32_t _deadline = 0;   ///< coarse seconds; 0 = none
    uint64_t _next_seq = 0;   ///< seq of the next parsed request
    uint64_t _next_write = 0; ///< seq whose response goes out next
    size_t _outstanding = 0;  ///< requests handed to the app, not answered yet
    size_t _scanned = 0;      ///< bytes of _tail already searched for a head end
    std::string _tail;        ///< unparsed bytes kept between reads (partial request)
    std::string _out;         ///< serialized responses waiting to be sent
    struct held {
        std::string bytes;
        bool close;
    };
    std::map<uint64_t, held> _held; ///< responses waiting for an earlier one (pipelining)

    // The request whose body is being read. The head is parsed again when the body is
    // complete (a few hundred ns, only for bodies spanning reads) rather than keeping a
    // 4 KB request_head per connection: idle connections must stay small.
    uint64_t _body_need = 0; ///< body_length: head + body bytes needed in the tail
    std::string _head_copy;  ///< body_chunked: head bytes (the tail moves on)
    std::string _body;       ///< body_chunked: decoded body so far
    chunked_decoder _chunked;
};

} // namespace ringbolt::http
