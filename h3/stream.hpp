// What h3/connection.cpp and h3/response.cpp share: a request stream's state (its request
// as it arrives, then its response as it is produced, sent and acknowledged).
#pragma once

#include "h3/connection.hpp"
#include "http/body_encoder.hpp"

#include <deque>
#include <memory>
#include <string>

namespace ringbolt::h3 {

struct connection::stream {
    int64_t id = 0;
    // The request: an HTTP/1.1 head is synthesized from the pseudo-headers and fields so
    // the dispatcher and the app see the same request_head as for HTTP/1.1 and HTTP/2.
    std::string method, path, authority;
    std::string fields; ///< "name: value\r\n" lines (names as received: lower case)
    std::string cookie; ///< RFC 9114 §4.2.1: cookie crumbs joined with "; "
    std::string head;   ///< the synthesized head (built when the headers end)
    std::string body;
    uint64_t head_wire = 0; ///< stream bytes fed before the head ended (the encoded block, bounded)
    uint64_t field_bytes = 0;
    size_t field_count = 0;
    int64_t content_length = -1;
    // A body streamed to the app: credited to the transport only as the app takes it,
    // so a stream buffers at most the transport's stream window.
    std::shared_ptr<http::body_stream> body_stream;
    uint64_t received = 0; ///< DATA payload bytes
    uint64_t credited = 0; ///< of which reported to stream_host::consumed
    bool request_ended = false;
    bool body_failed = false;
    bool headers_over = false; ///< over the field section limit: answered 431
    bool headers_done = false;
    bool reported = false;
    bool refused = false; ///< reset by us before an answer (its input is dropped)
    // The response.
    http::request_context ctx;
    bool from_app = false;
    bool started = false;
    bool ended = false; ///< the producer gave everything (or the response was aborted)
    bool no_body = false;
    bool deferred = false;     ///< the body reader said would_block: resume when pieces come
    bool write_closed = false; ///< RESET_STREAM sent (or asked for by the peer's STOP_SENDING)
    int64_t declared = -1;
    uint64_t given = 0;
    struct piece {
        std::string bytes;
        std::string_view view; ///< borrowed (kept alive by keep) when bytes is empty
        std::shared_ptr<const void> keep;
        std::shared_ptr<http::file_handle> file;
        uint64_t offset = 0;                       ///< file: where the rest starts
        uint64_t left = 0;                         ///< bytes not yet handed to the session (memory pieces: all or none)
        uint64_t length = 0;                       ///< bytes of the piece as handed to the session
        uint64_t acked = 0;                        ///< of which acknowledged
        std::shared_ptr<http::send_credit> credit; ///< told as its bytes are acknowledged
        std::string_view data() const noexcept { return bytes.empty() ? view : std::string_view(bytes); }
    };
    std::deque<piece> pending;  ///< produced, not handed to the session yet
    std::deque<piece> inflight; ///< handed to the session: held until acknowledged
    uint64_t pending_bytes = 0;
    uint64_t inflight_bytes = 0; ///< handed and not acknowledged
    std::string trailers;
    std::shared_ptr<http::stream_control> control;
    std::unique_ptr<http::body_encoder> encoder;
    std::shared_ptr<http::body_stream> watch;
};

} // namespace ringbolt::h3
