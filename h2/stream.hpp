// What h2/connection.cpp and h2/response.cpp share: a stream's state (its request as
// it arrives, then its response as it is produced) and the output queue's drain hook.
#pragma once

#include "h2/connection.hpp"
#include "http/body_encoder.hpp"

#include <deque>
#include <memory>
#include <string>

namespace ringbolt::h2 {

/// One stream: its request as it arrives, then its response as it is produced.
struct connection::stream {
    int32_t id = 0;
    // The request: an HTTP/1.1 head is synthesized from the pseudo-headers and fields so
    // the dispatcher and the app see the same request_head as for HTTP/1.1.
    std::string method, path, authority;
    std::string fields; ///< "name: value\r\n" lines (names as received: lower case)
    std::string cookie; ///< RFC 9113 §8.2.3: cookie crumbs joined with "; "
    std::string head;   ///< the synthesized head (built when the headers end)
    std::string body;
    size_t header_bytes = 0;
    size_t header_count = 0;
    int64_t content_length = -1; ///< the request's content-length field (-1: none)
    // A body streamed to the app: pushed as DATA arrives; the stream's window is given
    // back only as the app takes it (WINDOW_UPDATE follows the app's reads), so a stream
    // buffers at most its window. The connection's window is not held: DATA is credited
    // to it as it arrives (connection::on_data_chunk).
    std::shared_ptr<http::body_stream> body_stream;
    uint64_t received = 0;      ///< DATA payload bytes of this stream
    uint64_t consumed = 0;      ///< of which given back to the stream's flow-control window
    uint32_t body_at = 0;       ///< coarse second the request last moved (headers, DATA, or credit given)
    bool request_ended = false; ///< END_STREAM came from the client (or the stream was reset)
    bool body_failed = false;
    bool headers_over = false; ///< over the header list limits: answered 431
    bool headers_done = false;
    bool reported = false; ///< dispatched (or answered)
    // The response.
    http::request_context ctx;
    bool from_app = false; ///< counted in _app_streams until the app's end (or the stream's)
    bool started = false;  ///< HEADERS submitted
    bool ended = false;    ///< the whole body is in `pending` (or the response failed)
    bool no_body = false;  ///< HEAD / 204 / 304: body pieces are dropped
    bool deferred = false; ///< the data provider waits for pieces
    int64_t declared = -1; ///< Content-Length the response announced
    uint64_t given = 0;    ///< body bytes the producer gave
    struct piece {
        std::string bytes;
        std::string_view view; ///< borrowed (kept alive by keep) when bytes is empty
        std::shared_ptr<const void> keep;
        std::shared_ptr<http::file_handle> file;
        uint64_t offset = 0; ///< file: where the rest starts; memory: bytes already framed
        uint64_t left = 0;
        /// Compressed bytes: their credit to the producer (its bytes, not the coded ones);
        /// null: `control` is credited directly.
        std::shared_ptr<http::send_credit> credit;
    };
    std::deque<piece> pending;
    uint64_t pending_bytes = 0;
    std::string trailers;
    std::shared_ptr<http::stream_control> control;
    /// A streamed answer compressed as it goes (each piece flushed); null otherwise.
    std::unique_ptr<http::body_encoder> encoder;
    std::shared_ptr<http::body_stream> watch;
};

struct connection::drain_hook final : public http::send_credit {
    connection* conn;
    explicit drain_hook(connection* c) : conn(c) {}
    void on_sent(size_t) noexcept override {
        if (conn != nullptr) {
            conn->_hook_armed = false;
            conn->on_output_drained();
        }
    }
};

} // namespace ringbolt::h2
