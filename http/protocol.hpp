// What a reactor sees of a connection's protocol (HTTP/1.1, HTTP/2, WebSocket after a
// 101), and what a protocol sees of the runtime: the dispatcher it reports requests to. Protocols are pure over bytes
// and events: they never touch a socket; their output goes to an output_queue the reactor sends.
#pragma once

#include "core/counters.hpp"
#include "core/output_queue.hpp"
#include "http/app_message.hpp"
#include "http/parser.hpp"
#include "http/response_framer.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ringbolt::http {

struct connection_limits {
    parser_limits parser;
    uint64_t max_body = 16 * 1024 * 1024;
    uint32_t header_timeout_s = 10;       ///< first byte of a head to its end
    uint32_t body_timeout_s = 30;         ///< between two reads of a body
    uint32_t keep_alive_timeout_s = 5;    ///< idle between requests
    uint32_t min_body_rate = 1024;        ///< bytes/s a body must average after body_timeout_s (0: no floor)
    uint32_t write_timeout_s = 30;        ///< a response waiting for the client may not move this long
    uint64_t stream_body_above = 1 << 20; ///< bodies larger (or chunked) go to streaming routes as they arrive
    uint64_t body_window = 256 * 1024;    ///< streamed body bytes not taken by the app before reading pauses
};

class protocol;
class protocol_registry;
struct protocol_env;

/// The HTTP versions a listener speaks (`--http`): both (HTTP/1.1, and HTTP/2 by prior
/// knowledge, `Upgrade: h2c` or ALPN), HTTP/1.1 only, or HTTP/2 only (an HTTP/1.1 request
/// is refused with a 505, the connection then closed).
enum class http_versions : uint8_t { both, http1, http2 };

/// Builds a protocol that takes a connection over from HTTP/1.1: after an application's
/// 101 Switching Protocols (RFC 9110 §15.2.2, a WebSocket: the answer carries one, the
/// HTTP/1.1 protocol frames the 101, calls make() and hands the connection on, see
/// protocol::take_successor), or as the protocol_registry chose it (ALPN, a preface, an
/// `Upgrade` token the server answers itself).
class protocol_upgrade {
  public:
    virtual ~protocol_upgrade() = default;
    /// `pending`: what the client sent that is already meant for the new protocol (the
    /// bytes after the upgrade request, or the preface and what followed it): it is fed
    /// to it before anything else.
    virtual std::unique_ptr<protocol> make(uint32_t slot, uint32_t gen, const peer_address& peer,
                                           std::string_view pending, protocol_env& env) = 0;
    /// Chosen by an `Upgrade` token (registered in the protocol_registry; HTTP/2's h2c,
    /// RFC 7540 §3.2): the protocol that answers the upgrading request (`head`, as
    /// received in `head_bytes`, with its `body`) itself, once HTTP/1.1 has queued the
    /// 101. Null: no upgrade (the request is answered as HTTP/1.1).
    virtual std::unique_ptr<protocol> make_upgraded(uint32_t slot, uint32_t gen, const peer_address& peer,
                                                    const request_head& head, std::string_view head_bytes,
                                                    std::string_view body, protocol_env& env) {
        (void)slot;
        (void)gen;
        (void)peer;
        (void)head;
        (void)head_bytes;
        (void)body;
        (void)env;
        return nullptr;
    }
};

/// A complete request as a protocol reports it.
struct request_event {
    const request_head& head;
    std::string_view head_bytes; ///< the head as received (views in `head` point here)
    std::string_view body;       ///< the whole (decoded) body (empty when `body_follows`)
    bool body_follows;           ///< the body has not arrived: the dispatcher may stream it
    uint64_t seq;                ///< order on the connection
    request_context& ctx;        ///< the dispatcher may add response features (CORS, compression, request id)
    uint32_t slot;
    uint32_t gen;
    const peer_address& peer;
    /// The protocol's buffer when it holds exactly head_bytes then body (a body read whole
    /// in HTTP/1.1's tail), with request_body_padding bytes of room after it: the
    /// dispatcher may move it into the request instead of copying both (null: copy).
    std::string* buffer = nullptr;
};

/// A request a protocol answered itself, without the dispatcher: refused before its head
/// parsed or its body arrived (RFC 9112's 400, 413, 414, 431, 501, 505, a 408 timeout, an
/// HTTP/2 stream over a limit). What is known of it, for the access log.
struct refused_request {
    const peer_address& peer;
    std::string_view method; ///< as far as it came ("": not known)
    std::string_view target; ///< as far as it came ("": not known)
    uint8_t version_minor;   ///< 0, 1, version_http2 or version_http3
    uint16_t status;
    size_t body_bytes; ///< of the error answer
};

struct protocol_env;

/// Where requests go (the runtime layer: routing, native answers, admission, the app).
class dispatcher {
  public:
    enum class verdict : uint8_t {
        answered,  ///< answered natively through protocol::respond during the call
        to_app,    ///< handed to the application: its answer comes as app_response messages
        buffer,    ///< (body_follows only) read the whole body first, then report it again
        streaming, ///< (body_follows only) handed to the application; push the body into `stream`
        upgrade,   ///< handed to the application, which may switch protocols (a WebSocket handshake):
                   ///< nothing after the request is parsed as HTTP until it has answered
    };
    virtual ~dispatcher() = default;
    /// `stream` is set by a `streaming` verdict.
    virtual verdict on_request(protocol& conn, const request_event& ev, protocol_env& env,
                               std::shared_ptr<body_stream>& stream) = 0;
    /// The protocol answered `r` itself (every answer has its access-log line).
    virtual void on_refused(const refused_request& r) noexcept { (void)r; }
};

/// Per-turn facts the reactor gives a protocol.
struct protocol_env {
    const connection_limits& limits;
    std::string_view date; ///< cached Date header value
    uint32_t now_s;        ///< whole monotonic seconds, read as the turn's wait ended (core/clock.hpp)
    bool draining;         ///< server is shutting down: answer with Connection: close
    core::core_counters& counters;
    dispatcher& dispatch;
    size_t output_limit = SIZE_MAX;        ///< stop parsing while this much output is unsent (backpressure)
    const server_fields* fields = nullptr; ///< what the server adds to every response (nullptr: the defaults)
    /// The protocols HTTP/1.1 may hand a connection to (a preface, an `Upgrade` token);
    /// null: none (HTTP/1.1 only).
    const protocol_registry* protocols = nullptr;
    /// False on an HTTP/2-only listener: an HTTP/1.x request is answered 505 (then the
    /// connection closes); only a registered preface goes on, to its protocol.
    bool http1 = true;
};

/// Pipelined requests handed to the application per connection before parsing pauses.
inline constexpr size_t max_outstanding_per_connection = 64;

/// A connection's input, as its protocol owns it (the reactor keeps no copy: it asks).
/// Held back: parsing stopped for backpressure (the application has not answered, or not
/// taken a body or its messages), what came waits in the protocol and the reactor stops
/// reading. Ended: the client finished sending (EOF, a TLS close_notify). The client may
/// finish while input is held back: that input is still parsed (pump), then it has ended.
///
///   open ──hold──▶ held_back ──end──▶ held_back_ended
///    ▲  ◀─release──┘                    │ ▲
///    │                            release │ │ hold
///    └──────end──────▶ ended ◀────────────┘ │
///                        └──────────────────┘
enum class input_state : uint8_t { open, held_back, ended, held_back_ended };

class protocol {
  public:
    virtual ~protocol() = default;

    /// Start serving a freshly accepted connection.
    virtual void open(uint32_t slot, uint32_t gen, const peer_address& peer, uint32_t now_s,
                      const connection_limits& lim) = 0;
    /// Bytes received (plaintext, after the transport). False when ignored because the
    /// connection is already closing.
    virtual bool on_data(std::string_view data, protocol_env& env) = 0;
    /// Parse what backpressure held back, if it may go on now.
    virtual void pump(protocol_env& env) = 0;
    /// Bytes were received but are not parsed yet (backpressure), and may be once it ends.
    virtual bool has_pending_input() const noexcept = 0;
    /// Where the next bytes read from the socket may go directly (a streamed request
    /// body's own buffer: the reactor then reads the socket straight into it, skipping a
    /// copy, in pieces as large as the room); empty: read into the reactor's buffer and
    /// call on_data. Plaintext connections only.
    virtual std::span<char> direct_input() noexcept { return {}; }
    /// What keeps direct_input()'s room alive while a receive into it is in the kernel
    /// (the body stream: the request may end, and its owner let go, before the receive does).
    virtual std::shared_ptr<void> direct_input_owner() const noexcept { return {}; }
    /// `n` bytes were read into direct_input()'s room (n > 0). A receive that was in the
    /// kernel while the body failed (a timeout) ends here too: its bytes are dropped.
    virtual void on_direct_input(size_t n, protocol_env& env) {
        (void)n;
        (void)env;
    }
    /// Bytes received after this protocol held its input back may be given to it at once
    /// (on_data) instead of waiting in the reactor's stash: a streamed body over its window,
    /// whose bytes go to the app's blocks either way (one copy instead of two).
    virtual bool takes_input_while_held() const noexcept { return false; }
    input_state input() const noexcept { return _input; }
    /// Parsing stopped for backpressure (held_back, held_back_ended).
    bool input_held() const noexcept {
        return _input == input_state::held_back || _input == input_state::held_back_ended;
    }
    /// The client finished sending (ended, held_back_ended).
    bool input_ended() const noexcept { return _input >= input_state::ended; }
    /// The client finished sending (EOF, close_notify): the input ends, once, and the
    /// protocol hears it (on_peer_eof). What it sent is still answered.
    void end_input(protocol_env& env) {
        if (input_ended()) {
            return;
        }
        _input = _input == input_state::held_back ? input_state::held_back_ended : input_state::ended;
        on_peer_eof(env);
    }
    /// A message from the application about one of this connection's requests.
    virtual void on_app_message(app_response&& m, protocol_env& env) = 0;
    /// Answer request `seq` natively (views valid for the call only).
    virtual void respond(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                         std::string_view body, protocol_env& env) = 0;
    /// Answer request `seq` natively with a file range as its body (static files):
    /// `length` bytes of `file` from `offset`, sent with sendfile(). `file` may be null
    /// for a HEAD request (only the length is announced). The default reads the range
    /// into memory and calls respond(); HTTP/1.1 queues the range itself.
    virtual void respond_file(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                              std::shared_ptr<core::file_handle> file, uint64_t offset, uint64_t length,
                              protocol_env& env);
    /// The deadline passed (the reactor sweeps once a second).
    virtual void on_timeout(protocol_env& env) = 0;
    /// The server drains: protocol_env::draining, the reactor's one fact, says so from now
    /// on (HTTP/1.1 reads it there and keeps no copy; h2 keeps only that its GOAWAY went).
    /// True when the connection can be closed at once. HTTP/1.1 never
    /// closes at once: an idle connection gets `grace_s` for a request to arrive, which
    /// is answered with Connection: close (the reactor's sweep peeks for bytes in the
    /// kernel before it closes one that stayed idle).
    virtual bool begin_drain(uint32_t now_s, uint32_t grace_s) = 0;
    /// The connection is gone (closed by either side): tell producers, free memory.
    virtual void release() noexcept = 0;

    /// After a 101, the protocol that replaces this one (with everything queued here
    /// moved into it), once; else null. The reactor asks after every application message.
    /// Input that had ended stays ended (the successor is not told again).
    std::unique_ptr<protocol> take_successor() noexcept {
        if (_successor && input_ended()) [[unlikely]] {
            _successor->_input = _successor->input_held() ? input_state::held_back_ended : input_state::ended;
        }
        return std::move(_successor);
    }
    bool has_successor() const noexcept { return _successor != nullptr; }

    core::output_queue& output() noexcept { return _out; }
    bool has_output() const noexcept { return !_out.empty(); }

    /// No more requests will be read: close once every owed response is queued and sent.
    virtual bool closing() const noexcept = 0;
    /// Closing, and nothing more will be queued: close after the output is sent.
    virtual bool close_after_flush() const noexcept = 0;
    /// No request in progress and nothing owed: safe to close (idle timeout, drain).
    virtual bool idle() const noexcept = 0;
    /// Every owed response is queued (a partial request may remain).
    virtual bool nothing_owed() const noexcept = 0;
    /// Requests handed to the application and not fully answered yet.
    virtual size_t outstanding() const noexcept = 0;
    /// Whole second `now_s + timeout` (0: none): on_timeout is due once the clock has
    /// passed it (core/clock.hpp deadline_passed), so a timeout is never short.
    virtual uint32_t deadline() const noexcept = 0;
    /// Requests fully parsed so far (0: the client has not sent one yet).
    virtual uint64_t requests_seen() const noexcept = 0;

  protected:
    /// The client finished sending (end_input, once). What it sent is still answered.
    virtual void on_peer_eof(protocol_env& env) = 0;
    /// The input's transitions (input_state): all of them are here.
    void reset_input() noexcept { _input = input_state::open; }
    void hold_input() noexcept {
        if (_input == input_state::open) {
            _input = input_state::held_back;
        } else if (_input == input_state::ended) {
            _input = input_state::held_back_ended;
        }
    }
    void release_input() noexcept {
        if (_input == input_state::held_back) {
            _input = input_state::open;
        } else if (_input == input_state::held_back_ended) {
            _input = input_state::ended;
        }
    }

    core::output_queue _out;
    std::unique_ptr<protocol> _successor;
    input_state _input = input_state::open;
};

} // namespace ringbolt::http
