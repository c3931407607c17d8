// The one place that speaks libnghttp3's API. The library is a pre-1.0 release here (its
// calls, callback tables and settings move between releases), so h3::connection sees only
// this small server-side session: bytes of streams in, frames of streams out, and the
// events below. Supported: libnghttp3 0.8.x (Debian 12's libnghttp3-dev 0.8.0, the version
// built and tested); another release is ported here and nowhere else.
#pragma once

#include "core/small_blocks.hpp"
#include "quic/streams.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

struct nghttp3_conn;

namespace ringbolt::h3 {

/// HTTP/3 error codes (RFC 9114 §8.1): protocol values, stable across library versions.
namespace error {
inline constexpr uint64_t no_error = 0x0100;
inline constexpr uint64_t general_protocol_error = 0x0101;
inline constexpr uint64_t internal_error = 0x0102;
inline constexpr uint64_t stream_creation_error = 0x0103;
inline constexpr uint64_t closed_critical_stream = 0x0104;
inline constexpr uint64_t frame_unexpected = 0x0105;
inline constexpr uint64_t frame_error = 0x0106;
inline constexpr uint64_t excessive_load = 0x0107;
inline constexpr uint64_t id_error = 0x0108;
inline constexpr uint64_t settings_error = 0x0109;
inline constexpr uint64_t missing_settings = 0x010a;
inline constexpr uint64_t request_rejected = 0x010b;
inline constexpr uint64_t request_cancelled = 0x010c;
inline constexpr uint64_t request_incomplete = 0x010d;
inline constexpr uint64_t message_error = 0x010e;

/// The code's name as RFC 9114 §8.1 spells it ("H3_UNKNOWN" for another).
constexpr std::string_view name(uint64_t code) noexcept {
    constexpr std::string_view names[] = {
        "H3_NO_ERROR",
        "H3_GENERAL_PROTOCOL_ERROR",
        "H3_INTERNAL_ERROR",
        "H3_STREAM_CREATION_ERROR",
        "H3_CLOSED_CRITICAL_STREAM",
        "H3_FRAME_UNEXPECTED",
        "H3_FRAME_ERROR",
        "H3_EXCESSIVE_LOAD",
        "H3_ID_ERROR",
        "H3_SETTINGS_ERROR",
        "H3_MISSING_SETTINGS",
        "H3_REQUEST_REJECTED",
        "H3_REQUEST_CANCELLED",
        "H3_REQUEST_INCOMPLETE",
        "H3_MESSAGE_ERROR",
    };
    if (code >= no_error && code <= message_error) {
        return names[code - no_error];
    }
    constexpr std::string_view qpack[] = {"QPACK_DECOMPRESSION_FAILED", "QPACK_ENCODER_STREAM_ERROR",
                                          "QPACK_DECODER_STREAM_ERROR"}; // RFC 9204 §6
    if (code >= 0x0200 && code <= 0x0202) {
        return qpack[code - 0x0200];
    }
    return "H3_UNKNOWN";
}
} // namespace error

/// What the server announces in its SETTINGS and how its QPACK decoder is bounded.
struct session_limits {
    uint64_t max_field_section_size = 16 * 1024; ///< SETTINGS_MAX_FIELD_SECTION_SIZE
    size_t qpack_max_dtable_capacity = 4096;     ///< SETTINGS_QPACK_MAX_TABLE_CAPACITY (decoder memory)
    size_t qpack_blocked_streams = 16;           ///< SETTINGS_QPACK_BLOCKED_STREAMS
    bool enable_connect_protocol = false;        ///< SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3)
};

/// One field of a response head or trailer section (lower-case name).
struct field {
    std::string_view name;
    std::string_view value;
};

/// What a response body reader says about the vectors it filled.
struct body_flags {
    bool eof = false;      ///< the body ends with these bytes
    bool trailers = false; ///< ... and a trailer section follows (submit_trailers was called)
};

/// The session's events (h3::connection implements them). An int result is 0, or -1 to
/// fail the whole connection.
class session_events {
  public:
    virtual ~session_events() = default;
    virtual int on_begin_headers(int64_t id) noexcept = 0;
    /// A field of the request head (`trailer`: of its trailer section).
    virtual int on_header(int64_t id, std::string_view name, std::string_view value, bool trailer) noexcept = 0;
    virtual int on_end_headers(int64_t id, bool fin, bool trailer) noexcept = 0;
    /// Request body bytes (DATA payload): not counted in read_stream's result; the
    /// connection credits them to the transport itself.
    virtual int on_body(int64_t id, std::span<const uint8_t> data) noexcept = 0;
    virtual int on_end_stream(int64_t id) noexcept = 0;
    /// Bytes a stream blocked on QPACK held, now processed: credit them.
    virtual int on_deferred_consume(int64_t id, size_t n) noexcept = 0;
    /// `n` more response body bytes (what on_read_body gave) were acknowledged, in order.
    virtual int on_body_acked(int64_t id, uint64_t n) noexcept = 0;
    virtual int on_stream_close(int64_t id, uint64_t app_error) noexcept = 0;
    /// The library wants STOP_SENDING / RESET_STREAM sent on the stream (a malformed
    /// request, a stream after GOAWAY).
    virtual int on_want_stop_sending(int64_t id, uint64_t app_error) noexcept = 0;
    virtual int on_want_reset(int64_t id, uint64_t app_error) noexcept = 0;
    /// The client sent GOAWAY.
    virtual int on_peer_goaway(int64_t id) noexcept = 0;
    /// Response body bytes: fill up to `max` vectors with memory that stays valid until
    /// on_body_acked covers it (or the stream closes). Returns the count, or
    /// session::would_block when nothing is ready (resume() when there is).
    virtual long on_read_body(int64_t id, quic::out_piece* vec, size_t max, body_flags& flags) noexcept = 0;
};

/// A server-side HTTP/3 session (framing, QPACK, the control and request stream state).
class session {
  public:
    static constexpr long would_block = -1000000;

    /// `blocks`: where nghttp3's blocks come from (null: malloc); it outlives the session.
    session(session_events& events, const session_limits& limits, core::block_pool* blocks = nullptr);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// False when the library could not make the session (out of memory).
    bool ok() const noexcept { return _conn != nullptr; }
    /// Our control stream and QPACK encoder/decoder streams (unidirectional, ours).
    int bind_streams(int64_t control, int64_t qpack_encoder, int64_t qpack_decoder) noexcept;
    /// Feed in-order bytes of a stream. Returns the bytes the session is done with (all
    /// but DATA payload and what QPACK blocks, and the start of a control frame that is not
    /// whole yet: reported when it is), or a negative library error: the connection must
    /// close with error_code(result).
    int64_t read_stream(int64_t id, std::span<const uint8_t> data, bool fin) noexcept;
    /// The next frames to send: up to `max` vectors of one stream. Returns their count
    /// (`id` -1: nothing), or a negative library error.
    long write_stream(int64_t& id, bool& fin, quic::out_piece* vec, size_t max) noexcept;
    int add_write_offset(int64_t id, size_t n) noexcept;
    int add_ack_offset(int64_t id, uint64_t n) noexcept;
    void block_stream(int64_t id) noexcept;
    int unblock_stream(int64_t id) noexcept;
    /// A body that said would_block has more.
    int resume_stream(int64_t id) noexcept;
    /// Nothing more is sent on the stream (we reset it).
    void shutdown_write(int64_t id) noexcept;
    /// Nothing more is read from the stream (the peer reset it, or we stopped it).
    int shutdown_read(int64_t id) noexcept;
    /// The transport forgot the stream. A negative result for a critical stream: close
    /// the connection with error_code(result).
    int close_stream(int64_t id, uint64_t app_error) noexcept;
    /// The response head; `body`: on_read_body supplies a body (else the stream ends).
    int submit_response(int64_t id, std::span<const field> fields, bool body) noexcept;
    /// The stream's bytes take turns with those of the other streams of its urgency
    /// (RFC 9218 §4, incremental), whatever the client asked; its urgency is kept.
    int make_incremental(int64_t id) noexcept;
    /// Called from on_read_body at the body's end (set flags.trailers).
    int submit_trailers(int64_t id, std::span<const field> fields) noexcept;
    /// GOAWAY naming the first stream not processed (every stream seen so far is).
    int shutdown() noexcept;
    /// The client may have opened `n` bidirectional streams in all (QUIC's MAX_STREAMS so
    /// far): a frame naming a stream past it is H3_ID_ERROR (RFC 9218 §7.1). Only grows.
    void allow_client_streams(uint64_t n) noexcept;

    /// The HTTP/3 error code a negative library result maps to (RFC 9114 §8.1).
    static uint64_t error_code(int64_t liberr) noexcept;
    static const char* error_text(int64_t liberr) noexcept;
    /// The error is about one request's HTTP semantics (a body longer or shorter than its
    /// content-length), not the connection's framing.
    static bool is_message_error(int64_t liberr) noexcept;
    /// "major.minor.patch" of the library loaded at run time.
    static const char* library_version() noexcept;

    /// Of a client control stream's bytes `b` (after its type), how many may go to nghttp3
    /// 0.8 now: whole frames of the types it reads in parts (SETTINGS, GOAWAY, MAX_PUSH_ID,
    /// CANCEL_PUSH, PRIORITY_UPDATE); any other frame's header, its payload as it comes
    /// (`pass`: payload bytes of such a frame still to come). `too_large`: a frame of those
    /// types is over max_control_frame.
    static size_t whole_control_frames(std::string_view b, uint64_t& pass, bool& too_large) noexcept;
    static constexpr uint64_t max_control_frame = 16 * 1024;

  private:
    /// A client unidirectional stream until its type is known; then, for its control
    /// stream, the bytes of a frame not whole yet (see read_stream).
    struct uni_feed {
        enum class kind : uint8_t { untyped, control, other } type = kind::untyped;
        std::string held;
        uint64_t pass = 0;
    };
    int64_t feed_control(int64_t id, uni_feed& f, std::span<const uint8_t> data, bool fin) noexcept;

    nghttp3_conn* _conn = nullptr;
    struct allocator; ///< nghttp3's allocator over a block_pool (nghttp3 keeps a pointer to it)
    std::unique_ptr<allocator> _mem;
    std::unordered_map<int64_t, uni_feed> _uni;
};

} // namespace ringbolt::h3
