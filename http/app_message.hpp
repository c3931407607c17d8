// What crosses between a protocol and the application, both ways, as the protocols
// see it: the client's address, a streamed request body's receiving end, and the
// response as messages (head, body pieces, end) that the protocol frames. The request
// record the dispatcher builds for the application is dispatch/app_request.hpp.
#pragma once

#include "core/output_queue.hpp"
#include "core/proxy_info.hpp"
#include "core/tls_info.hpp"
#include "http/response_framer.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ringbolt::http {

/// Room a protocol leaves after a body it reads whole into a buffer it may hand over
/// (request_event::buffer): what a JSON parser reading in place needs (simdjson).
inline constexpr size_t request_body_padding = 64;

class protocol_upgrade; // http/protocol.hpp

struct peer_address {
    uint8_t family = 0; ///< AF_INET / AF_INET6 (0: unknown)
    uint16_t port = 0;  ///< host byte order
    uint8_t addr[16] = {};
    bool secure = false; ///< the connection is TLS (the request's scheme is https)
    /// The connection's TLS facts (owned by its transport, alive while the connection
    /// is; null for plain TCP). A request takes a reference in app_request::tls.
    const core::tls_info* tls = nullptr;
    /// What a load balancer's PROXY header said (owned by the transport, alive while the
    /// connection is; null without one). A request takes a reference in app_request::proxy.
    const core::proxy_info* proxy = nullptr;
};

/// Why a streamed request body did not complete.
enum class body_error : uint8_t {
    too_large,  ///< over the body limit while streaming (413)
    timeout,    ///< the client stopped sending, or sent below the minimum rate (408)
    malformed,  ///< bad chunked framing (400)
    disconnect, ///< the connection is gone
};

/// A request body handed to the application as it arrives. The protocol pushes decoded
/// bytes on the reactor thread; the application takes them on its own thread and
/// sends credit back (app_response::part_read_more), so an app that does not read
/// stops the socket being read.
class body_stream {
  public:
    virtual ~body_stream() = default;
    virtual void push(std::string_view bytes) noexcept = 0;
    virtual void finish() noexcept = 0;
    virtual void fail(body_error why) noexcept = 0;
    /// Bytes pushed that the application has not taken yet.
    virtual uint64_t unconsumed() const noexcept = 0;
    /// Room for up to `max` of the body's next bytes, written in place (a read straight
    /// from the socket, which saves push()'s copy), then reported with commit(n) before
    /// any other call; empty when the stream has no such room (push() only).
    virtual std::span<char> write_space(uint64_t max) noexcept {
        (void)max;
        return {};
    }
    /// `n` bytes were written at the start of write_space()'s room: they follow what was pushed.
    virtual void commit(size_t n) noexcept { (void)n; }
};

/// When the application sends credit (app_response::part_read_more) for a streamed body:
/// at its first read (it wants the body: 100 Continue), and whenever what it has not taken
/// falls from `window / 2` or more to below it. `window` (connection_limits::body_window)
/// is what a protocol lets wait untaken before the client must stop: HTTP/1.1 pauses
/// reading there, and an HTTP/2 stream's window is at least that, so a full window always
/// ends in a credit and the client goes on.
inline bool body_credit_due(bool first_read, uint64_t untaken_before, uint64_t untaken_after,
                            uint64_t window) noexcept {
    return first_read || (untaken_before >= window / 2 && untaken_after < window / 2);
}

/// Told when a streamed response's connection goes away, and (as a send_credit) how
/// many of its body bytes reached the kernel. Implemented by the producer's side.
class stream_control : public core::send_credit {
  public:
    /// The connection closed (client gone, error, drain deadline) before the response
    /// ended: stop producing. Called at most once, on the reactor thread.
    virtual void on_closed() noexcept = 0;
};

/// What few answers carry: borrowed body bytes, a file range, trailers, a protocol
/// switch. Out of line (app_response::more), so that the usual answer does not carry
/// their room from vector to vector.
struct app_response_more {
    std::string_view borrowed; ///< body bytes kept alive by `keep` (instead of app_response::body)
    std::shared_ptr<const void> keep;
    std::shared_ptr<core::file_handle> file; ///< or a file range
    uint64_t file_offset = 0;
    uint64_t file_length = 0;
    std::string trailers; ///< with end, chunked only
    /// With a 101 head: builds the protocol that takes the connection over.
    std::shared_ptr<protocol_upgrade> upgrade;
};

/// One message from the application about the response to request `seq`: any of its
/// head, a body piece and its end, in that order over the messages of one response.
/// The common case is all three in one message (a whole response). What every answer
/// carries comes first, in 152 bytes; the rare parts are `more` (issue 29: an async
/// answer is written into the staged vector and read back by its reactor, and at
/// thousands of connections each of its lines there is a last-level miss; it was 320
/// bytes, five lines, the rare parts' room among them).
struct app_response {
    enum part : uint8_t {
        part_head = 1,       ///< `start` is set: the response begins
        part_body = 2,       ///< `body` (or more->borrowed, or more->file) carries body bytes
        part_end = 4,        ///< the response is complete (more->trailers optional)
        part_abort = 8,      ///< the producer failed mid-response: close so the client can tell
        part_read_more = 16, ///< the app took streamed body bytes (and wants the body: 100 Continue)
        part_message = 32,   ///< after an upgrade: `body` is one message of the new protocol (`opcode`)
    };
    uint64_t seq = 0;
    uint64_t start_ns = 0;
    uint32_t conn_slot = 0;
    uint32_t conn_gen = 0;
    uint32_t route_id = 0;
    uint8_t parts = part_head | part_body | part_end;
    uint8_t opcode = 0; ///< part_message: the new protocol's message kind (WebSocket opcode)
    response_head start;
    std::string body;                        ///< owned body bytes
    std::shared_ptr<stream_control> stream;  ///< with head of a streamed response
    std::unique_ptr<app_response_more> more; ///< the rare parts (null: none)

    /// The rare parts, made on first use (to set them).
    app_response_more& rare() {
        if (!more) {
            more = std::make_unique<app_response_more>();
        }
        return *more;
    }
    std::string_view borrowed() const noexcept { return more ? more->borrowed : std::string_view(); }
    /// The body's bytes: the borrowed ones when there are, else `body`.
    std::string_view body_bytes() const noexcept {
        return more && !more->borrowed.empty() ? more->borrowed : std::string_view(body);
    }
    bool has_file() const noexcept { return more && more->file; }
    bool has_upgrade() const noexcept { return more && more->upgrade; }
    std::string_view trailers() const noexcept { return more ? std::string_view(more->trailers) : std::string_view(); }
};
static_assert(sizeof(app_response) <= 152, "an answer's usual parts in 152 bytes; the rare ones in `more`");

} // namespace ringbolt::http
