// One client connection's HTTP/1.1 protocol, independent of any I/O backend: bytes in
// (on_data), complete requests reported to the dispatcher, responses framed into the
// output queue in request order even when pipelined and streamed, and the deadlines the
// reactor's once-a-second sweep enforces.
#pragma once

#include "http/body_encoder.hpp"
#include "http/chunked.hpp"
#include "http/kept_head.hpp"
#include "http/protocol.hpp"
#include "http/response_phase.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringbolt::http {

/// HTTP/1.1's ALPN protocol id (RFC 7301 §6).
inline constexpr std::string_view http1_alpn = "http/1.1";

/// Line-aligned: its hot fields (below) in its first three cache lines.
class alignas(64) http1_connection final : public protocol {
  public:
    void open(uint32_t slot, uint32_t gen, const peer_address& peer, uint32_t now_s,
              const connection_limits& lim) override;
    bool on_data(std::string_view data, protocol_env& env) override;
    void pump(protocol_env& env) override;
    bool has_pending_input() const noexcept override { return input_held() && !_closing; }
    std::span<char> direct_input() noexcept override;
    std::shared_ptr<void> direct_input_owner() const noexcept override { return _stream; }
    bool takes_input_while_held() const noexcept override {
        return _phase == phase::body_stream && _stream && !_stream_chunked && _tail.empty();
    }
    void on_direct_input(size_t n, protocol_env& env) override;
    void on_app_message(app_response&& m, protocol_env& env) override;
    void respond(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                 std::string_view body, protocol_env& env) override;
    void respond_file(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                      std::shared_ptr<core::file_handle> file, uint64_t offset, uint64_t length,
                      protocol_env& env) override;
    void on_timeout(protocol_env& env) override;
    bool begin_drain(uint32_t now_s, uint32_t grace_s) override;
    void release() noexcept override;

    bool closing() const noexcept override { return _closing; }
    bool close_after_flush() const noexcept override { return _closing && _owed.empty(); }
    bool idle() const noexcept override {
        return _tail.empty() && _owed.empty() && _out.empty() && _phase == phase::head;
    }
    bool nothing_owed() const noexcept override { return _owed.empty() && _out.empty() && !input_held(); }
    size_t outstanding() const noexcept override { return _outstanding; }
    uint32_t deadline() const noexcept override { return _deadline; }
    uint64_t requests_seen() const noexcept override { return _next_seq; }

  protected:
    /// A body that can no longer complete fails; the app's disconnect watchers hear it.
    void on_peer_eof(protocol_env& env) override;

  private:
    /// Where the connection is in its input.
    enum class phase : uint8_t {
        head,         ///< between requests or inside a head
        body_length,  ///< a Content-Length body is being received (head + body kept in the tail)
        body_chunked, ///< a chunked body is being decoded into _body
        body_stream,  ///< a body streamed to the app as it arrives (or discarded: _stream null)
        closed,       ///< released
    };

    /// A response owed to the client, in request order. The front one writes straight
    /// to the output queue; later ones frame into `held` (made when one first does) until
    /// they are at the front. Line-aligned and small: every app request makes one in the
    /// vector's kept block, and at thousands of connections each of its lines is a miss
    /// (issue 29; a queue inline took two lines more, request_context's holes a third).
    struct alignas(64) owed {
        uint64_t seq = 0;
        request_context ctx;
        response_framer framer;
        std::unique_ptr<core::output_queue> held;
        std::shared_ptr<stream_control> stream;
        std::shared_ptr<body_stream> watch;    ///< told when the client goes before the answer ends
        std::unique_ptr<body_encoder> encoder; ///< a streamed body compressed piece by piece (else null)
        bool from_app = false;                 ///< counted in _outstanding until it ends
        /// started: head framed; ended: end framed, nothing more comes; failed: cannot be
        /// completed, the connection closes after it.
        response_phase phase = response_phase::owed;
    };
    static_assert(sizeof(owed) <= 2 * 64, "an owed entry fills at most two cache lines");

    size_t process(std::string_view buf, protocol_env& env);
    void consume_tail(protocol_env& env); ///< process the tail, drop what was used
    dispatcher::verdict finish_request(const request_head& head, std::string_view head_bytes, std::string_view body,
                                       protocol_env& env, bool body_follows = false, std::string* buffer = nullptr);
    /// A body the app may take as a stream: report the head now. True when the body is
    /// then streamed (or discarded after a native answer); false: read it whole. A chunked
    /// body's decoder is left as the caller fed it (the bytes of the head's read).
    bool start_body_stream(const request_head& head, std::string_view head_bytes, bool chunked, protocol_env& env);
    size_t stream_body(std::string_view rest, protocol_env& env); ///< bytes used
    void end_body_stream(bool ok, body_error why);
    void fail_unfinishable_body();
    void tell_watchers(); ///< the client is gone: requests waiting for their answer hear it
    void expect_continue(const request_head& head, protocol_env& env);
    /// Answer `err` and close; `request`: what came of the refused request from its
    /// start (its request line, for the access log).
    void emit_error(http_error err, std::string_view request, protocol_env& env);
    /// A request answered here, not by the dispatcher: its access-log line.
    std::string_view held_request() const noexcept;
    void tell_refused(std::string_view method, std::string_view target, uint8_t version_minor, uint16_t status,
                      size_t body_bytes, protocol_env& env) const noexcept;
    // Leaving HTTP/1.1 (http1_upgrade.cpp). Cold on the declarations too: the callers'
    // hot path keeps the calls out of its way (without it, 5 instructions a request).
    /// The input starts a registered preface (HTTP/2's): hand the connection over (the successor).
    [[gnu::cold]] bool hand_by_preface(std::string_view rest, protocol_env& env);
    /// An HTTP/1.x request on an HTTP/2-only listener: answered 505, then the close.
    [[gnu::cold]] void refuse_http1(const request_head& head, protocol_env& env);
    /// CONNECT (501) and Upgrade requests with a registered token (h2c); true when answered here.
    [[gnu::cold]] bool special_request(const request_head& head, std::string_view head_bytes, std::string_view body,
                                       protocol_env& env, bool body_follows);
    /// An `Upgrade` token the protocol_registry knows (h2c, RFC 7540 §3.2): answer 101 and
    /// hand the connection to its protocol, which answers this request (HTTP/2: as stream
    /// 1). False: not such a request (or not now).
    [[gnu::cold]] bool upgrade_by_token(const request_head& head, std::string_view head_bytes, std::string_view body,
                                        protocol_env& env);
    void set_idle_deadline(const protocol_env& env);
    void set_read_deadline(bool had_tail, const protocol_env& env);
    bool body_too_slow(uint64_t received, const protocol_env& env) const noexcept;

    owed* find_owed(uint64_t seq) noexcept;
    uint64_t queued_bytes() const noexcept; ///< output queued, including held responses
    core::output_queue& queue_of(owed& o) {
        if (&o == &_owed.front()) {
            return _out;
        }
        if (!o.held) [[unlikely]] {
            o.held = std::make_unique<core::output_queue>();
        }
        return *o.held;
    }
    void start_response(owed& o, uint16_t status, std::string_view fields, int64_t length, bool app_close,
                        bool has_date, bool has_server, protocol_env& env);
    void end_response(owed& o, bool ok);
    void respond_framed(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                        std::string_view body, protocol_env& env);
    /// A native answer of `length` body bytes: framed straight into the output when
    /// nothing is owed before it, else through its owed entry. `body(framer, queue)`
    /// appends the body and says whether it could.
    template <class Body>
    void respond_native(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                        int64_t length, protocol_env& env, Body&& body);
    /// Compression (response features): start `o` from the app's head, compressing the
    /// body when it comes whole in `m`. True when `m` was handled entirely.
    bool start_coded(owed& o, app_response& m, std::string_view fields, protocol_env& env);
    /// A body piece of a compressed stream: encoded, flushed and framed.
    bool body_coded(owed& o, std::string_view piece, bool finish);
    void advance(); ///< the front response ended: move on to the next
    /// The application answered the upgrade request with 101: frame it and hand the
    /// connection to the protocol `up` makes. False when the connection cannot switch.
    bool switch_protocols(owed& o, app_response& m, protocol_env& env);

    // Hot: what every request reads (on_data, process, finish_request, the reactor's
    // close_after_flush and queued_bytes), next to the base's output queue and input
    // state, so that with the class line-aligned they lie in its first three cache lines
    // (issue 29: a request on one of thousands of connections finds them out of the cache
    // and pays a miss per line: benchmarks/journal/2026-11-26.md, "The output's segment
    // in one line"). The peer (read when the app asks for the client's address) after them.
    uint32_t _slot = 0;
    uint32_t _gen = 0;
    phase _phase = phase::head;
    bool _closing = false;    ///< no further request is read; close once owed responses are sent
    uint32_t _deadline = 0;   ///< coarse seconds; 0 = none
    uint64_t _next_seq = 0;   ///< seq of the next parsed request
    uint64_t _next_write = 0; ///< seq whose response goes out next (== _owed.front().seq)
    size_t _outstanding = 0;  ///< requests handed to the app, not fully answered yet
    size_t _scanned = 0;      ///< bytes of _tail already searched for a head end
    std::vector<owed> _owed;  ///< responses owed, in request order (empty on the fast path)
    std::string _tail;        ///< unparsed bytes kept between reads (partial request)
    peer_address _peer;

    // The request whose body is being read over later reads. Its head is parsed once: it
    // is kept as offsets (kept_head: a few bytes a field, not a 4 KB request_head per
    // connection, so idle connections stay small) and laid over its bytes again when the
    // body is complete (body_length: the tail's start; body_chunked: _head_copy).
    kept_head _kept;
    uint64_t _body_need = 0;     ///< body_length: head + body bytes needed in the tail
    uint32_t _body_started = 0;  ///< coarse second the body began (minimum data rate)
    uint64_t _body_received = 0; ///< bytes of the body since _body_started (minimum rate)
    std::string _head_copy;      ///< body_chunked: head bytes (the tail moves on)
    std::string _body;           ///< body_chunked: decoded body so far; body_stream: scratch
    chunked_decoder _chunked;
    // body_stream: where the body goes, how much is left (Content-Length) or chunked.
    std::shared_ptr<body_stream> _stream;
    uint64_t _stream_left = 0;
    uint64_t _stream_seq = 0;
    bool _stream_chunked = false;
    bool _stream_continue = false;  ///< Expect: 100-continue, not answered yet
    bool _close_after_body = false; ///< a request without persistence whose body still streams
    bool _awaiting_upgrade = false; ///< an upgrade request is with the app: hold what follows it
    uint64_t _upgrade_seq = 0;      ///< that request
};

} // namespace ringbolt::http
