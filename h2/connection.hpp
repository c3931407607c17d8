// HTTP/2 (RFC 9113) as a protocol behind the same seam as HTTP/1.1: libnghttp2 does the
// framing, HPACK and the stream state machine; this file is the glue. Each stream's
// request is reported to the dispatcher with seq = stream id, and the answers (native or
// the app's messages) go out as HEADERS and DATA frames into the connection's output
// queue. Limits against the known attacks (rapid reset, CONTINUATION and HPACK floods,
// SETTINGS/PING floods, zero-window stalls) are enforced here.
#pragma once

#include "http/protocol.hpp"
#include "http/protocol_registry.hpp"
#include "http/stream_exchange.hpp"
#include "http/stream_policy.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

struct nghttp2_session;

namespace ringbolt::h2 {

/// The client connection preface (RFC 9113 §3.4).
inline constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Fixed protocol limits (what the server announces and how much abuse it takes).
struct settings {
    uint32_t max_concurrent_streams = 100; ///< SETTINGS_MAX_CONCURRENT_STREAMS; more are refused
    uint32_t initial_window = 256 * 1024;  ///< SETTINGS_INITIAL_WINDOW_SIZE (request bodies)
    uint32_t connection_window = 1u << 20; ///< the connection's receive window
    http::abuse_limits abuse;       ///< client RST_STREAMs (http/stream_policy.hpp); over: GOAWAY ENHANCE_YOUR_CALM
    uint32_t control_burst = 200;   ///< SETTINGS + PING frames taken at once ...
    uint32_t control_rate = 20;     ///< ... and per second after that
    uint32_t max_continuations = 8; ///< CONTINUATION frames after a HEADERS (CVE-2024-27316)
    /// WebSocket over HTTP/2 (RFC 8441): SETTINGS_ENABLE_CONNECT_PROTOCOL is sent and an
    /// extended CONNECT with `:protocol websocket` goes to the dispatcher as a handshake.
    /// The server sets it when a route takes WebSockets.
    bool websocket = false;
};

class connection final : public http::stream_protocol {
  public:
    explicit connection(const settings& cfg = {});
    ~connection() override;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void open(uint32_t slot, uint32_t gen, const http::peer_address& peer, uint32_t now_s,
              const http::connection_limits& lim) override;
    /// After `Upgrade: h2c` (RFC 7540 §3.2): the HTTP2-Settings payload (decoded) and
    /// the upgrading request, answered as stream 1 (its head bytes and body).
    bool open_upgraded(std::string_view settings_payload, bool head_request);
    bool on_data(std::string_view data, http::protocol_env& env) override;
    void pump(http::protocol_env& env) override;
    void on_app_message(http::app_response&& m, http::protocol_env& env) override;
    void on_timeout(http::protocol_env& env) override;
    bool begin_drain(uint32_t now_s, uint32_t grace_s) override;
    void release() noexcept override;

    bool close_after_flush() const noexcept override;
    bool idle() const noexcept override { return _streams.empty() && _out.empty(); }
    bool nothing_owed() const noexcept override { return _app_streams == 0 && _out.empty(); }
    uint32_t deadline() const noexcept override { return _deadline; }
    /// What the client may still send on the connection before it needs a WINDOW_UPDATE
    /// (for tests: never held by bodies that wait for their app).
    int32_t receive_window() const noexcept;

    /// Report the request of stream `id` now (after an h2c upgrade: the HTTP/1.1 request
    /// becomes stream 1). `head_bytes` is an HTTP/1.1 head.
    void dispatch_upgraded(std::string_view head_bytes, std::string_view body, http::protocol_env& env);

    // nghttp2's callbacks (static trampolines in the .cpp call these).
    struct stream;
    int on_begin_headers(int32_t id);
    int on_header(int32_t id, uint8_t frame_type, std::string_view name, std::string_view value);
    int on_frame_recv(int type, uint8_t flags, int32_t id);
    int on_data_chunk(int32_t id, std::string_view data);
    int on_stream_close(int32_t id, uint32_t error_code);
    int on_frame_send(int type, int32_t id, uint32_t error_code);
    long read_body(int32_t id, size_t length, uint32_t* flags);
    int send_data(int32_t id, const uint8_t* framehd, size_t length);
    void append_out(const uint8_t* data, size_t len) { _out.append({reinterpret_cast<const char*>(data), len}); }

  private:
    stream* find(uint64_t seq) noexcept;
    /// Report the request; `body_follows`: its body has not arrived (it may stream).
    void dispatch(stream& st, bool body_follows = false);
    /// Give the client back window for body bytes the app took (or we dropped).
    void consume(stream& st);
    /// Answer `status` natively with body `why` (`content_type`'s line; none: text/plain).
    void answer_error(stream& st, uint16_t status, std::string_view why, std::string_view content_type = {});
    /// Submit the response headers of `st` (`body_follows`: DATA frames come).
    void start_response(stream& st, const http::response_start& h);
    void respond_native(http::native_answer&& a, http::protocol_env& env) override;
    void each_stream(void (*fn)(http::stream_protocol&, http::stream_exchange&)) override;
    void reset_stream(stream& st, uint32_t error_code);
    void resume(stream& st);
    // What HTTP/2 does for an extended CONNECT's rules (http/stream_tunnel.cpp), in h2/tunnel.cpp.
    void tunnel_dispatch(http::stream_exchange& st) override;
    void tunnel_refuse(http::stream_exchange& st, uint16_t status, std::string_view why) override;
    bool tunnel_submit_head(http::stream_exchange& st, const http::response_start& h) override;
    /// RST_STREAM: NO_ERROR after a linger, CANCEL for a refusal, else INTERNAL_ERROR.
    void tunnel_reset(http::stream_exchange& st, http::tunnel_end how) override;
    void tunnel_consume(http::stream_exchange& st) override; ///< WINDOW_UPDATE for what was parsed
    void tunnel_send(http::stream_exchange& st) override;
    uint32_t tunnel_now() const noexcept override { return _now_s; }
    core::core_counters& tunnel_counters() noexcept override { return _env->counters; }
    void flush();
    /// GOAWAY with `error_code`, close after it is sent (`why`: for the log, when an error).
    void fatal(uint32_t error_code, std::string_view why = {});
    void update_deadline();
    /// The streams' clocks (http/stream_policy.hpp) at `_now_s`: a request whose head or
    /// body stalled is reset; a response that waited for window too long ends the connection.
    void expire_streams();
    void close_stream_state(stream& st) noexcept;

    /// Told (through a send credit on a DATA frame header) when the output queue has
    /// drained down to that frame: deferred responses go on (see read_body).
    struct drain_hook;
    friend struct drain_hook;
    void on_output_drained();

    settings _cfg;
    nghttp2_session* _session = nullptr;
    std::shared_ptr<drain_hook> _hook;
    size_t _output_limit = 1u << 20; ///< DATA waits while this much output is unsent
    bool _out_blocked = false;       ///< a response waits for the output queue to drain
    bool _hook_armed = false;        ///< the hook is in the queue, not sent yet
    void clear_output() noexcept;
    http::protocol_env* _env = nullptr; ///< during a call from the reactor
    uint32_t _now_s = 0;
    uint32_t _data_moved = 0; ///< the second DATA of any stream last went (the shared window moved)
    uint32_t _deadline = 0;
    http::frame_budget _resets;
    http::frame_budget _control;
    std::unordered_map<int32_t, std::unique_ptr<stream>> _streams;
};

/// Makes the HTTP/2 protocol of a connection (prior knowledge, or ALPN "h2"): fed
/// `pending` (the preface and what followed it) at once; or, after `Upgrade: h2c`, the
/// one that answers the upgrading request as stream 1.
class starter final : public http::protocol_upgrade {
  public:
    explicit starter(const settings& cfg = {}) : _cfg(cfg) {}
    std::unique_ptr<http::protocol> make(uint32_t slot, uint32_t gen, const http::peer_address& peer,
                                         std::string_view pending, http::protocol_env& env) override;
    std::unique_ptr<http::protocol> make_upgraded(uint32_t slot, uint32_t gen, const http::peer_address& peer,
                                                  const http::request_head& head, std::string_view head_bytes,
                                                  std::string_view body, http::protocol_env& env) override;

  private:
    settings _cfg;
};

/// How HTTP/2 is chosen (server/protocols.cpp registers a starter with it): ALPN "h2"
/// (RFC 9113 §3.2), the client preface with prior knowledge (§3.3), `Upgrade: h2c` in
/// cleartext (RFC 7540 §3.2).
inline constexpr http::protocol_choice choice{"h2", "h2", client_preface, "h2c"};

} // namespace ringbolt::h2
