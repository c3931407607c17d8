// Owns: incremental HTTP/1.x response framing for ringbolt-load — where one response
// ends in a byte stream (status line, headers, Content-Length / chunked / until-close
// bodies), its status code and whether the server will close the connection after it.
//
// Why incremental: bytes arrive in provided buffers that are recycled as soon as they
// are parsed, so nothing but a split header block is ever copied; bodies (possibly
// large) are skipped by counting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringbolt_load {

struct response_event {
    bool complete = false; // one whole response has been consumed
    int status = 0;
    bool close = false; // the server closes after this response
};

class response_parser {
  public:
    enum class result { ok, error };

    // The request method matters: a response to HEAD has no body whatever it says.
    void set_head_request(bool head) noexcept { _head = head; }

    // Consume bytes from [data, data+len) up to the end of at most one response.
    // Sets *consumed; fills ev when a response ends. Call again with the rest.
    result feed(const char* data, size_t len, size_t* consumed, response_event* ev);

    // The peer closed. Returns true if that ended a response (body delimited by
    // close); *mid_response tells whether a partial response was cut off.
    bool on_eof(response_event* ev, bool* mid_response) noexcept;

    void reset() noexcept;
    bool idle() const noexcept { return _state == state::head && _head_buf.empty(); }
    const char* error_text() const noexcept { return _error; }

  private:
    enum class state : uint8_t {
        head,
        body_length,
        body_until_close,
        chunk_size,
        chunk_ext,
        chunk_size_lf,
        chunk_data,
        chunk_data_cr,
        chunk_data_lf,
        trailer_start,
        trailer_line,
        trailer_end_lf,
    };

    result parse_head(const char* b, size_t n);
    result fail(const char* why) noexcept {
        _error = why;
        return result::error;
    }
    void finish(response_event* ev) noexcept;

    state _state = state::head;
    std::string _head_buf; // a header block split across receives
    uint64_t _remaining = 0;
    uint64_t _chunk_size = 0;
    int _chunk_digits = 0;
    int _status = 0;
    bool _close = false;
    bool _head = false;
    const char* _error = "";
};

} // namespace ringbolt_load
