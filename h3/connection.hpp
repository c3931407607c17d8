// HTTP/3 (RFC 9114) over the QUIC transport's streams: libnghttp3 (behind h3/nghttp3_api)
// does the framing, QPACK and the stream state; this file is the glue, as h2/connection is
// for HTTP/2. Each request stream is reported to the dispatcher with seq = stream id and
// http_version 3; the answers (native or the app's messages) go out as HEADERS and DATA
// frames the transport pulls with next_output. Request bodies are credited to the
// transport's flow control only as the app takes them.
//
// How it relates to http::protocol: the dispatcher and the app's messages answer through
// http::protocol (respond, respond_file, on_app_message) and the reactor keeps a
// connection's requests, timeouts and drain through it too, so h3::connection is one. What
// http::protocol has for a byte stream does not apply: input comes per stream through
// quic::stream_user (on_data ignores bytes and says so by returning false; pump and
// has_pending_input are inert) and output leaves through next_output, never through the
// output queue (it stays empty, so has_output() is always false). One object rather than
// an adapter pair: both faces share every stream's state, and the reactor's
// bookkeeping (idle, outstanding, release) means the same thing on both.
#pragma once

#include "h3/nghttp3_api.hpp"
#include "http/protocol.hpp"
#include "http/stream_exchange.hpp"
#include "http/stream_policy.hpp"
#include "quic/streams.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ringbolt::h3 {

/// Fixed protocol limits (what the server announces and how much abuse it takes).
struct settings {
    /// Request streams open at once; a client stream beyond is refused (H3_REQUEST_REJECTED).
    /// The transport's MAX_STREAMS (bidirectional) should announce the same number.
    uint32_t max_concurrent_streams = 100;
    /// SETTINGS_MAX_FIELD_SECTION_SIZE (0: the parser's max_head_bytes). Fields beyond it
    /// (RFC 9114 §4.2.2 counts 32 bytes a field) get a 431; a header block whose encoded
    /// bytes pass twice the limit is not decoded at all: the stream is reset with
    /// H3_EXCESSIVE_LOAD.
    uint64_t max_field_section_size = 0;
    size_t qpack_max_dtable_capacity = 4096; ///< the QPACK decoder's dynamic table
    size_t qpack_blocked_streams = 16;       ///< streams that may wait on QPACK encoder instructions
    size_t file_chunk = 64 * 1024;           ///< file bytes read into memory per DATA piece
    http::abuse_limits abuse;                ///< client RESET_STREAMs (http/stream_policy.hpp); over: H3_EXCESSIVE_LOAD
    /// The transport's window per stream (what a client may send ahead): a streamed body
    /// that much untaken by its app is the app's wait, not the client's (its clock stops).
    uint64_t stream_window = 256 * 1024;
    /// Some route takes WebSockets: SETTINGS_ENABLE_CONNECT_PROTOCOL is sent, and an
    /// extended CONNECT with `:protocol websocket` goes to the dispatcher as a handshake
    /// (RFC 9220).
    bool websocket = false;
    /// The methods answered from 0-RTT data (RFC 8470, --http3-early-methods): RFC 9110's
    /// safe ones, or those the server names (whose replay its app makes harmless). Any
    /// other request that came in 0-RTT is answered 425 Too Early without reaching the app.
    std::vector<std::string> early_methods{"GET", "HEAD", "OPTIONS", "TRACE"};
    /// Where nghttp3's blocks come from (the reactor's; null: malloc). Outlives the connection.
    core::block_pool* blocks = nullptr;
};

/// Where the stream_user calls (which carry no env) find the reactor's per-turn env.
class env_source {
  public:
    virtual ~env_source() = default;
    virtual http::protocol_env& env() noexcept = 0;
};

class connection final : public http::stream_protocol, public quic::stream_user, private session_events {
  public:
    explicit connection(env_source& envs, const settings& cfg = {});
    ~connection() override;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // ---- http::protocol: the dispatcher's answers, the app's messages, the lifecycle ----
    void open(uint32_t slot, uint32_t gen, const http::peer_address& peer, uint32_t now_s,
              const http::connection_limits& lim) override;
    bool on_data(std::string_view data, http::protocol_env& env) override; ///< false: bytes come per stream
    void pump(http::protocol_env& env) override { (void)env; }
    void on_app_message(http::app_response&& m, http::protocol_env& env) override;
    /// The streams' clocks (http/stream_policy.hpp): a stalled head or body resets its
    /// stream, a response held by the client's window too long ends the connection.
    void on_timeout(http::protocol_env& env) override;
    bool begin_drain(uint32_t now_s, uint32_t grace_s) override;
    void release() noexcept override;
    bool close_after_flush() const noexcept override { return _failed || (_closing && idle()); }
    /// No request stream is open (both faces: the reactor's and the transport's).
    bool idle() const noexcept override { return _streams.empty(); }
    bool nothing_owed() const noexcept override { return _app_streams == 0; }
    /// The earliest of the streams' clocks (idle and handshake timeouts are the transport's).
    uint32_t deadline() const noexcept override;

    // ---- quic::stream_user: the transport's side ----
    void on_connected(quic::stream_host& host) noexcept override;

    void on_stream_data(int64_t stream_id, std::span<const uint8_t> data, bool fin) noexcept override;
    void on_stream_reset(int64_t stream_id, uint64_t app_error) noexcept override;
    void on_stop_sending(int64_t stream_id, uint64_t app_error) noexcept override;
    void on_stream_closed(int64_t stream_id, uint64_t app_error) noexcept override;
    void on_acked(int64_t stream_id, uint64_t n) noexcept override;
    void on_stream_writable(int64_t stream_id) noexcept override;
    void next_output(quic::stream_output& out) noexcept override;
    void wrote(int64_t stream_id, size_t n) noexcept override;
    void blocked(int64_t stream_id) noexcept override;
    void begin_drain() noexcept override;

    /// For tests: response bytes held for retransmission (given to the transport, not
    /// acknowledged yet) and body bytes received but not credited back, over all streams.
    uint64_t unacked_bytes() const noexcept;
    uint64_t uncredited_bytes() const noexcept;
    /// The transport's connection close, once made (0: none).
    uint64_t close_code() const noexcept { return _close_code; }

    struct stream;

  private:
    // session_events
    int on_begin_headers(int64_t id) noexcept override;
    int on_header(int64_t id, std::string_view name, std::string_view value, bool trailer) noexcept override;
    int on_end_headers(int64_t id, bool fin, bool trailer) noexcept override;
    int on_body(int64_t id, std::span<const uint8_t> data) noexcept override;
    int on_end_stream(int64_t id) noexcept override;
    int on_deferred_consume(int64_t id, size_t n) noexcept override;
    int on_body_acked(int64_t id, uint64_t n) noexcept override;
    int on_stream_close(int64_t id, uint64_t app_error) noexcept override;
    int on_want_stop_sending(int64_t id, uint64_t app_error) noexcept override;
    int on_want_reset(int64_t id, uint64_t app_error) noexcept override;
    int on_peer_goaway(int64_t id) noexcept override;
    long on_read_body(int64_t id, quic::out_piece* vec, size_t max, body_flags& flags) noexcept override;

    /// The open request stream `id` (null: none, or only its app's work is left).
    stream* find(int64_t id) noexcept;
    /// The transport closed a request stream: it is given back to the client now, or once
    /// its app has answered (a handler still at work counts against the cap).
    void stream_closed(int64_t id) noexcept;
    /// The app answered (or gave up on) a stream whose transport side is gone: given back.
    void work_done(int64_t id) noexcept;
    void grant_stream() noexcept;
    /// The client cancelled a request stream (`st` null: one not seen yet): counted once
    /// per stream; false when that was past the budget and the connection is closing.
    bool count_cancel(stream* st) noexcept;
    http::protocol_env& env() noexcept { return _env != nullptr ? *_env : _envs.env(); }
    /// Feed bytes of a stream to the session (request head bytes bounded first).
    void read(int64_t id, std::span<const uint8_t> data, bool fin) noexcept;
    void dispatch(stream& st, bool body_follows = false);
    void consume(stream& st) noexcept; ///< credit the body bytes the app took (or we dropped)
    /// Answer `status` natively with body `why` (`content_type`'s line; none: text/plain).
    void answer_error(stream& st, uint16_t status, std::string_view why, std::string_view content_type = {});
    void start_response(stream& st, const http::response_start& h);
    void respond_native(http::native_answer&& a, http::protocol_env& env) override;
    void each_stream(void (*fn)(http::stream_protocol&, http::stream_exchange&)) override;
    // What HTTP/3 does for an extended CONNECT's rules (http/stream_tunnel.cpp), in h3/tunnel.cpp.
    void tunnel_dispatch(http::stream_exchange& st) override;
    void tunnel_refuse(http::stream_exchange& st, uint16_t status, std::string_view why) override;
    /// The 200; the app's work is the session's from now (not held against the stream cap).
    bool tunnel_submit_head(http::stream_exchange& st, const http::response_start& h) override;
    /// STOP_SENDING H3_NO_ERROR after a linger (our FIN stands), else RESET_STREAM with
    /// H3_REQUEST_CANCELLED for a refusal or H3_INTERNAL_ERROR.
    void tunnel_reset(http::stream_exchange& st, http::tunnel_end how) override;
    void tunnel_consume(http::stream_exchange& st) override; ///< stream credit for what was parsed
    void tunnel_send(http::stream_exchange& st) override;
    uint32_t tunnel_now() const noexcept override { return _env != nullptr ? _env->now_s : _envs.env().now_s; }
    core::core_counters& tunnel_counters() noexcept override { return env().counters; }
    /// Refuse a stream: STOP_SENDING and RESET_STREAM with `code`, its input dropped.
    void refuse(stream& st, uint64_t code) noexcept;
    /// Abort our response (RESET_STREAM): the producer stops, nothing more is offered.
    void abort_response(stream& st, uint64_t code) noexcept;
    void resume(stream& st) noexcept;
    void fail(int64_t liberr) noexcept; ///< a connection error from the session: close with its H3 code
    void close(uint64_t code, std::string_view reason) noexcept;
    void forget(stream& st) noexcept; ///< the stream is gone: tell producers and the app, credit its input

    env_source& _envs;
    settings _cfg;
    std::unique_ptr<session> _session;
    quic::stream_host* _host = nullptr;
    http::protocol_env* _env = nullptr; ///< during a call that brought one
    uint64_t _field_limit = 0;
    bool _draining_sent = false; ///< our GOAWAY is queued
    uint32_t _data_moved = 0;    ///< the second any response's bytes last went (the shared window moved)

    uint64_t _close_code = 0;
    uint64_t _offered = 0;                                         ///< the bytes of next_output's last offer
    std::unordered_map<int64_t, std::unique_ptr<stream>> _streams; ///< request streams
    std::unordered_set<int64_t> _refused;                          ///< streams refused before the session saw them
    http::frame_budget _resets;                                    ///< the client's request-stream resets
    /// Streams of requests that ended, kept for the next ones (at most max_spare_streams),
    /// each in its table node: a stream's exchange, deques, buffers and node are a dozen
    /// allocations made once.
    using stream_table = std::unordered_map<int64_t, std::unique_ptr<stream>>;
    std::vector<stream_table::node_type> _spare;
    static constexpr size_t max_spare_streams = 16;
    /// Erase a request stream from the table, keeping it as a spare.
    void drop_stream(stream_table::iterator it) noexcept;
};

} // namespace ringbolt::h3
