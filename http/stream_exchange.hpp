// One request/response exchange on a multiplexed connection (an HTTP/2 or HTTP/3 stream):
// what both protocols do alike. The request head synthesized from the pseudo-headers, the
// response's fields as a header list, native answers, the app's messages (compression,
// body pieces, the Content-Length check, the end) and file chunks. The framing library
// (nghttp2, nghttp3), flow control and stream resets stay in h2/ and h3/.
#pragma once

#include "core/output_queue.hpp"
#include "http/app_message.hpp"
#include "http/body_encoder.hpp"
#include "http/parser.hpp"
#include "http/protocol.hpp"
#include "http/response_framer.hpp"
#include "http/response_phase.hpp"
#include "http/stream_policy.hpp"
#include "http/stream_tunnel.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::http {

/// Response fields as a header list (HPACK or QPACK pairs): names lowercased into one
/// store reserved up front; each protocol turns the pairs into its library's type.
class header_list {
  public:
    void reserve(size_t bytes) {
        _store.reserve(bytes + 64);
        _spans.reserve(16);
    }
    /// Empty, its room kept (a protocol keeps one per thread for every answer it frames).
    void clear() noexcept {
        _store.clear();
        _spans.clear();
    }
    void add(std::string_view name, std::string_view value);
    /// "Name: value\r\n" lines. Connection-specific fields never appear in HTTP/2 (RFC 9113
    /// §8.2.2) nor HTTP/3 (RFC 9114 §4.2): they are left out.
    void add_lines(std::string_view lines);
    size_t size() const noexcept { return _spans.size(); }
    std::string_view name(size_t i) const noexcept { return {_store.data() + _spans[i].at, _spans[i].name}; }
    std::string_view value(size_t i) const noexcept {
        return {_store.data() + _spans[i].at + _spans[i].name, _spans[i].value};
    }

  private:
    struct span {
        size_t at;
        size_t name;
        size_t value;
    };
    std::string _store;
    std::vector<span> _spans;
};

/// A body piece of a stream's response: owned bytes, borrowed bytes, or a file range.
struct stream_piece {
    std::string bytes;
    std::string_view view; ///< borrowed (kept alive by keep) when bytes is empty
    std::shared_ptr<const void> keep;
    std::shared_ptr<core::file_handle> file;
    uint64_t offset = 0; ///< file: where the rest starts; memory (HTTP/2): bytes already framed
    uint64_t left = 0;   ///< bytes not handed on yet
    uint64_t length = 0; ///< HTTP/3: bytes of the piece as handed to the session
    uint64_t acked = 0;  ///< HTTP/3: of which acknowledged
    /// Told as the bytes go (compressed bytes: their credit to the producer, its bytes
    /// rather than the coded ones); null: the stream's control is credited directly.
    std::shared_ptr<core::send_credit> credit;
    std::string_view data() const noexcept { return bytes.empty() ? view : std::string_view(bytes); }
};

/// Read `take` bytes of file piece `p` at its offset into `buf` (resized to `take`).
/// False: the file shrank under the response (the frame cannot be completed).
bool read_file_piece(const stream_piece& p, size_t take, std::string& buf);

/// What became of an app message given to a stream (stream_exchange::on_message).
enum class message_outcome : uint8_t {
    going,   ///< taken; more of the answer comes
    ended,   ///< taken, and the answer is whole (settle_app, drop_body follow)
    broken,  ///< the answer cannot go on (abort, wrong length, a coding failure): reset the stream
    refused, ///< a broken head or a body before the head: reset the stream, nothing was taken
    gone,    ///< the head could not be submitted (the protocol reset the stream itself)
};

/// A response head as a protocol submits it (stream_exchange::start builds its fields).
struct response_start {
    uint16_t status = 200;
    std::string_view fields;
    int64_t length = -1; ///< the body's length (-1: unknown)
    bool has_date = false;
    bool has_server = false;
    bool body_follows = false; ///< DATA frames come
};

/// The head of an app answer as it is to be submitted (after compression, when it applies).
struct head_plan : response_start {
    // What the message carries (has_body is cleared once an encoder took the piece).
    bool has_body = false;
    bool end = false;
    bool abort = false;
    std::string fields_store; ///< compressed: the fields with Content-Encoding, Vary
    std::string coded;        ///< compressed whole: the coded body
};

/// A native answer (the dispatcher's respond, respond_file): its head, and its body as
/// `bytes` or `file` from `offset` (`start.length` bytes).
struct native_answer {
    uint64_t seq;
    const request_context& ctx;
    response_start start;
    std::string_view bytes;
    std::shared_ptr<core::file_handle> file;
    uint64_t offset = 0;
};

/// What became of a request reported to the dispatcher (stream_exchange::report).
struct report_result {
    bool to_app = false; ///< the app owes the answer (the caller counts the stream)
    uint16_t error = 0;  ///< non-zero: answer this status with `why` (the head is refused)
    /// The answer's body (a head the parser refused: the problem HTTP/1.1 gives for it) and
    /// its Content-Type line (none: text/plain).
    std::string_view why;
    std::string_view content_type;
};

/// The state both protocols keep for a stream: its request as it arrives, then its
/// response as it is produced. h2::connection::stream and h3::connection::stream add what
/// their library and flow control need.
struct stream_exchange {
    // ---- the request: an HTTP/1.1 head is synthesized from the pseudo-headers and
    // fields so the dispatcher and the app see the same request_head for every version.
    std::string method, path, authority;
    std::string fields; ///< "name: value\r\n" lines (names as received: lower case)
    std::string cookie; ///< cookie crumbs joined with "; " (RFC 9113 §8.2.3, RFC 9114 §4.2.1)
    std::string head;   ///< the synthesized head (built when the headers end)
    std::string body;
    int64_t content_length = -1; ///< the request's content-length field (-1: none)
    uint64_t field_bytes = 0;    ///< the field section's size as the limit counts it
    size_t field_count = 0;
    /// A body streamed to the app: pushed as DATA arrives; credit goes back to the client
    /// only as the app takes it, so a stream buffers at most its window.
    std::shared_ptr<http::body_stream> body_stream;
    stream_clock clock;         ///< its head, body and response clocks (http/stream_policy.hpp)
    uint64_t received = 0;      ///< DATA payload bytes of this stream
    bool request_ended = false; ///< the client's side ended (or the stream was reset)
    bool body_failed = false;
    bool headers_over = false; ///< over the header list limits: answered 431
    bool headers_done = false;
    bool reported = false; ///< dispatched (or answered)
    // ---- the response.
    request_context ctx;
    response_phase phase = response_phase::owed;
    bool from_app = false;            ///< counted in the connection's app streams until the app's end (or the stream's)
    bool no_body = false;             ///< HEAD / 204 / 304: body pieces are dropped
    bool deferred = false;            ///< the library's body reader waits for pieces
    int64_t declared = -1;            ///< Content-Length the response announced
    uint64_t given = 0;               ///< body bytes the producer gave
    std::deque<stream_piece> pending; ///< produced, not handed to the library yet
    uint64_t pending_bytes = 0;
    std::string trailers;
    std::shared_ptr<stream_control> control;
    /// A streamed answer compressed as it goes (each piece flushed); null otherwise.
    std::unique_ptr<body_encoder> encoder;
    std::shared_ptr<http::body_stream> watch; ///< told when the client goes before the answer ends
    /// An extended CONNECT (RFC 8441, RFC 9220): set when the head names a :protocol.
    std::unique_ptr<stream_tunnel> tunnel;

    /// The session the stream hosts (null: none, or not accepted yet).
    hosted_session* hosted() const noexcept { return tunnel ? tunnel->session.get() : nullptr; }

    /// A request field, after the library's checks (pseudo-header rules, connection-
    /// specific fields): a pseudo-header kept, cookie crumbs joined, content-length
    /// read, host dropped when :authority is there (RFC 9113 §8.3.1, RFC 9114 §4.3.1),
    /// the rest kept as a line. The section counts 32 bytes a field (RFC 9113 §6.5.2,
    /// RFC 9114 §4.2.2): past `max_fields` or `max_bytes` nothing more is kept (it also
    /// bounds what an HPACK or QPACK bomb expands to) and headers_over says answer 431.
    void take_field(std::string_view name, std::string_view value, size_t max_fields, uint64_t max_bytes);
    /// Synthesize `head` (once), parse it into `out` and report the request (stream `id`,
    /// HTTP `version`) to the dispatcher. A streamed body gets `body_stream`, fed what came
    /// with the head; an answer the app owes makes the stream `from_app`. `upgrade`: an
    /// extended CONNECT for a WebSocket (RFC 8441), reported as a handshake
    /// (request_head::upgrade; ws::check_opening knows it by the version).
    report_result report(protocol& conn, uint64_t id, uint8_t version, bool body_follows, uint32_t slot, uint32_t gen,
                         const peer_address& peer, const parser_limits& limits, protocol_env& env, request_head& out,
                         bool upgrade = false);
    /// DATA of the request body (already counted in `received`): pushed to the app's
    /// stream (failed past `max_body`: the app's read raises 413), dropped once answered,
    /// else buffered whole. False: too large to buffer (the caller answers 413). The caller
    /// then credits the client what the app took, what was dropped or buffered.
    bool take_data(std::string_view data, uint64_t max_body);
    /// The response head as a header list: :status, the server's fields (`env` null: the
    /// defaults and no Date), `fields`, the response features' fields, content-length.
    /// The phase becomes started; no_body and declared are set; the status is counted.
    void start(header_list& list, uint16_t status, std::string_view fields, int64_t length, bool has_date,
               bool has_server, protocol_env* env);
    /// A native answer: the request's context taken, the head submitted by
    /// `start(const response_start&)`, then the body as one pending piece unless the
    /// response has none; the answer is then whole.
    template <class Start> void answer_native(native_answer& a, Start&& start) {
        if (&ctx != &a.ctx) {
            ctx = a.ctx;
        }
        start(static_cast<const response_start&>(a.start));
        queue_native(a);
    }
    /// An app message: `start(const response_start&)` submits the head (false: it could not,
    /// the stream is reset); then the body piece and the end are taken.
    template <class Start> message_outcome on_message(app_response& m, Start&& start) {
        head_plan plan;
        message_outcome out = take_head(m, plan);
        if (out != message_outcome::going) [[unlikely]] {
            return out;
        }
        if ((m.parts & app_response::part_head) && !start(static_cast<const response_start&>(plan))) [[unlikely]] {
            return message_outcome::gone;
        }
        return take_body(m, plan);
    }
    /// The client is gone (its input ended with the connection): the app hears it, from
    /// the answer's watch and from a body it still reads.
    void client_gone() noexcept;
    /// As new, for the connection's next stream, its buffers' room kept (up to 64 KiB each:
    /// a protocol keeps a few spare streams, so a request allocates no stream once warm).
    void reuse() noexcept;
    /// The response cannot go on: its producer stops, nothing pending goes out.
    void stop() noexcept;
    /// The app no longer owes this answer; true when it was counted (the caller uncounts it).
    bool settle_app() noexcept {
        bool was = from_app;
        from_app = false;
        return was;
    }
    /// The request body ended: a body streamed to the app is finished (unless it failed)
    /// and let go. False when no body streams (one read whole is the caller's to report).
    bool end_body_stream() noexcept;
    /// Answered before the request body ended: the rest is read and dropped (the client
    /// may stop, RFC 9113 §8.1, RFC 9114 §4.1), the app no longer reads it. True when the
    /// caller is to give the client its credit back.
    bool drop_body() noexcept;

  private:
    void queue_native(native_answer& a);
    message_outcome take_head(app_response& m, head_plan& plan);
    message_outcome take_body(app_response& m, head_plan& plan);
    /// One piece of a compressed streamed answer (see the .cpp); false: it cannot go on.
    bool code_piece(app_response& m, bool has_body, bool end);
};

/// A protocol of multiplexed streams (HTTP/2, HTTP/3): the dispatcher's native answers
/// (compressed when the request's features say so) become one respond_native call.
class stream_protocol : public protocol {
  public:
    void respond(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                 std::string_view body, protocol_env& env) final;
    void respond_file(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                      std::shared_ptr<core::file_handle> file, uint64_t offset, uint64_t length,
                      protocol_env& env) final;
    /// Input comes as frames per stream, taken as it arrives: none is ever held back.
    bool has_pending_input() const noexcept final { return false; }
    bool closing() const noexcept final { return _closing; }
    size_t outstanding() const noexcept final { return _app_streams; }
    uint64_t requests_seen() const noexcept final { return _requests_seen; }

  protected:
    /// The client finished sending (end_input): no new streams, and every stream's app
    /// hears it.
    void on_peer_eof(protocol_env& env) final;

    // ---- an extended CONNECT (http/stream_tunnel.cpp): one copy of its rules for both
    // protocols (RFC 8441, RFC 9220), each giving the hooks below. The stream keeps every
    // rule of any other stream: its windows, its send clock, resets and abuse budgets.
    /// The head of a CONNECT ended. A :protocol websocket (`websocket`: the SETTINGS
    /// offered it) goes to the dispatcher as a handshake (a GET whose :path is the
    /// WebSocket's URI, RFC 8441 §5); a plain CONNECT (a TCP tunnel, RFC 9113 §8.5) or
    /// another :protocol is answered 501 (RFC 9220 §3).
    void begin_tunnel(stream_exchange& st, bool websocket);
    /// An app message for a stream whose tunnel awaits the app or hosts its session. False:
    /// the app refused the handshake with an ordinary answer (403, an ASGI denial): the
    /// stream is ordinary from now, and the caller takes the message as any other.
    bool tunnel_message(stream_exchange& st, app_response& m);
    /// DATA of the stream (counted in `received` already): the session's once it runs;
    /// before the accept it waits whole (bounded by the stream's window: uncredited).
    void tunnel_data(stream_exchange& st, std::string_view data);
    /// The client ended its side (END_STREAM, FIN): the end of the WebSocket (1006 for
    /// the app unless a close frame came first).
    void tunnel_peer_end(stream_exchange& st);
    /// The app took messages: what backpressure held back is parsed, and credited.
    void tunnel_pump(stream_exchange& st);
    /// The server drains: the session closes with 1001, and the client's answer ends it.
    void tunnel_drain(stream_exchange& st);
    /// The session's deadline (a ping, a ping timeout, the close timeout) and how long the
    /// client may keep its side open after the session ended. True: the stream was ended.
    bool expire_tunnel(stream_exchange& st);
    /// The earliest of those (0: none).
    static uint32_t tunnel_deadline(const stream_exchange& st) noexcept;
    /// Of `received`, what the client may have credited back: what the session parsed
    /// (held-back frames stay uncredited), nothing that waits for the accept.
    static uint64_t tunnel_credit(const stream_exchange& st) noexcept;

    // The hooks: what each protocol does for the rules above.
    /// Report the handshake to the dispatcher (request_head::upgrade set).
    virtual void tunnel_dispatch(stream_exchange& st) = 0;
    /// Answer `status` natively with `why` as its body.
    virtual void tunnel_refuse(stream_exchange& st, uint16_t status, std::string_view why) = 0;
    /// Submit a response head; false when it could not be (the stream is reset).
    virtual bool tunnel_submit_head(stream_exchange& st, const response_start& h) = 0;
    /// End the stream `how` (its producer stops; the app no longer owes it).
    virtual void tunnel_reset(stream_exchange& st, tunnel_end how) = 0;
    /// Credit the client what it may send again (tunnel_credit), and the clocks with it.
    virtual void tunnel_consume(stream_exchange& st) = 0;
    /// Send what is pending (the session wrote).
    virtual void tunnel_send(stream_exchange& st) = 0;
    virtual uint32_t tunnel_now() const noexcept = 0;
    virtual core::core_counters& tunnel_counters() noexcept = 0;
    /// `fn` on each open stream (with this connection, for the shared rules' members).
    virtual void each_stream(void (*fn)(stream_protocol&, stream_exchange&)) = 0;
    /// A new connection (open): who it is, its limits, nothing seen or owed yet.
    void start_over(uint32_t slot, uint32_t gen, const peer_address& peer, const connection_limits& lim) noexcept {
        _slot = slot;
        _gen = gen;
        _peer = peer;
        _limits = lim;
        _closing = false;
        _failed = false;
        _app_streams = 0;
        _requests_seen = 0;
    }

    uint32_t _slot = 0;
    uint32_t _gen = 0;
    peer_address _peer;
    connection_limits _limits;
    bool _closing = false;       ///< GOAWAY sent (or received, or the client is gone): no new streams
    bool _failed = false;        ///< the session failed (or the connection was closed with an error)
    size_t _app_streams = 0;     ///< streams whose answer the app owes (or still produces)
    uint64_t _requests_seen = 0; ///< streams the client opened

  private:
    /// After the session ran: credit what it parsed, send what it wrote, and end our side
    /// once it is done (its close frame is the stream's last DATA).
    void tunnel_moved(stream_exchange& st);
    /// The app accepted (`m` carries the 101 and its upgrade): the stream answers 200 and
    /// hosts the session from now (RFC 8441 §5, RFC 9220 §3).
    void open_tunnel(stream_exchange& st, app_response& m);

  protected:
    /// A native answer to stream `a.seq`: nothing when the stream is gone or answered;
    /// else the head now and, unless the response has no body (HEAD, 204, 304,
    /// `body_follows` false), one pending piece.
    virtual void respond_native(native_answer&& a, protocol_env& env) = 0;
};

} // namespace ringbolt::http
