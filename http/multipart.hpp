// multipart/form-data (RFC 7578 over RFC 2046 §5.1) as a streaming state machine: body
// bytes go in as they arrive, in pieces of any size, and part events come out through a
// sink; part data is handed out as views (into the input, or into the delimiter for a
// held-back prefix that turned out to be data), never buffered whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringbolt::http {

/// Why a multipart body is refused. Each maps to a status and a message (multipart_message).
enum class multipart_error : uint8_t {
    none = 0,         ///< no error
    bad_boundary,     ///< 400: boundary missing, empty, over 70 chars or not bchars (RFC 2046 §5.1.1)
    bad_delimiter,    ///< 400: a delimiter line followed by something other than padding and CRLF
    bad_part_header,  ///< 400: a part header line that is not `name: value` (no obs-fold, CRLF only)
    header_too_large, ///< 400: a part's header block over max_header_bytes
    bad_disposition,  ///< 400: no `Content-Disposition: form-data; name=...` (RFC 7578 §4.2)
    name_too_long,    ///< 400: a field name over max_name_length
    too_many_parts,   ///< 413: more parts than max_parts
    part_too_large,   ///< 413: a part's body over max_part_size
    truncated,        ///< 400: the body ended before the close delimiter
    aborted,          ///< the sink refused (its own reason; e.g. a spool write failed)
};

struct multipart_limits {
    size_t max_parts = 1000;             ///< parts in one body
    uint64_t max_part_size = UINT64_MAX; ///< bytes of one part's body
    size_t max_header_bytes = 16 * 1024; ///< one part's header block
    size_t max_name_length = 1024;       ///< a field name (after unquoting)
};

/// HTTP status for an error (413 for the size/count limits, else 400).
uint16_t multipart_status(multipart_error e) noexcept;
/// A message naming the cause (and the limit, for the limits).
std::string multipart_message(multipart_error e, const multipart_limits& limits);

/// One part's head, valid during on_part_begin.
struct multipart_part {
    std::string name;                                                   ///< Content-Disposition name
    std::string filename;                                               ///< filename* (decoded) or filename
    bool has_filename = false;                                          ///< a filename parameter was sent
    std::string_view content_type;                                      ///< Content-Type, or empty
    std::vector<std::pair<std::string_view, std::string_view>> headers; ///< every header line, in order
};

/// Receives the parts. Returning false stops the parser with multipart_error::aborted.
class multipart_sink {
  public:
    virtual ~multipart_sink() = default;
    virtual bool on_part_begin(const multipart_part& part) = 0;
    virtual bool on_part_data(std::string_view data) = 0;
    virtual bool on_part_end() = 0;
};

/// True when `b` is a valid boundary: 1-70 bchars, not ending in a space (RFC 2046 §5.1.1).
bool valid_boundary(std::string_view b) noexcept;

/// The boundary parameter of a multipart Content-Type value (quotes removed), or empty
/// when there is none. Does not validate it (valid_boundary does).
std::string boundary_of(std::string_view content_type);

enum class multipart_status_code : uint8_t { incomplete, complete, error };

class multipart_parser {
  public:
    /// `boundary` must satisfy valid_boundary (else every feed fails with bad_boundary).
    multipart_parser(std::string_view boundary, const multipart_limits& limits);

    /// Parse the next piece of the body. After `complete` the rest (the epilogue) is
    /// ignored; after `error` nothing more is parsed.
    multipart_status_code feed(std::string_view in, multipart_sink& sink);
    /// The body ended: `complete` if the close delimiter was seen, else `truncated`.
    multipart_status_code finish();

    multipart_error error() const noexcept { return _error; }
    size_t parts() const noexcept { return _parts; }
    const multipart_limits& limits() const noexcept { return _limits; }

  private:
    enum class state : uint8_t {
        preamble,        ///< before the first delimiter: discarded
        after_delimiter, ///< a delimiter matched: "--" (close) or padding then CRLF follows
        close_dash,      ///< one '-' of the close delimiter seen
        padding,         ///< transport padding (LWSP) before the CRLF
        padding_lf,      ///< the CR after the delimiter seen, LF expected
        header_line,     ///< inside a part's header block
        body,            ///< inside a part's body
        epilogue,        ///< after the close delimiter: ignored
        failed,          ///< an error was reported; nothing more is parsed
    };

    multipart_status_code fail(multipart_error e) noexcept;
    bool end_of_headers(multipart_sink& sink);
    bool parse_header_line(std::string_view line);
    bool data(multipart_sink& sink, std::string_view d);

    std::string _delim; ///< "\r\n--" + boundary
    multipart_limits _limits;
    state _state = state::preamble;
    multipart_error _error = multipart_error::none;
    size_t _matched = 2; ///< bytes of _delim matched and held back (the body starts as if after a CRLF)
    size_t _parts = 0;
    uint64_t _part_bytes = 0;
    std::string _hdr; ///< the current part's header block (owned: views point into it)
    size_t _line_start = 0;
    std::vector<std::pair<size_t, size_t>> _line_bounds; ///< header lines' [start, end) in _hdr
    multipart_part _part;
};

} // namespace ringbolt::http
