// The native response batteries an application turns on: compression negotiated from
// Accept-Encoding, CORS (preflights answered here, headers on actual responses), a
// request id kept or made per request, and security headers. Configured once before
// the reactors start, read-only afterwards; pure functions over the request head and
// the response's fields, so they are unit-tested and fuzzed without a ring.
#pragma once

#include "http/accept_encoding.hpp"
#include "http/parser.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringbolt::http {

struct request_context;
class body_encoder;

struct compression_settings {
    bool enabled = false;
    uint64_t min_size = 1024; ///< bodies shorter than this (when their length is known) go as they are
    content_coding offered[content_coding_count] = {};
    uint8_t offered_count = 0;            ///< `offered[0..count)`: the server's preference order
    int level[content_coding_count] = {}; ///< by content_coding
    /// The level was not given: bodies below `small_body` (and streamed pieces) use the
    /// fast levels (whole bodies under tiny_body, 32 KiB, ringbolt's own encoders,
    /// http/tiny_*; else zstd 3, br 1, gzip 1), larger ones the defaults (zstd 3, br 4,
    /// gzip 6).
    bool auto_level[content_coding_count] = {};
    /// `offered` in the order used for whole bodies under tiny_body: when every offered
    /// coding has an automatic level, by small_body_rank (gzip, br, zstd: the tiny
    /// encoders' measured cost per byte saved); otherwise `offered` as given.
    content_coding small_offered[content_coding_count] = {};
    /// Extra media types never compressed ("type/subtype", or "type/*"), lower case,
    /// beyond the built-in list (images but SVG, audio, video, archives, octet-stream).
    std::vector<std::string> exclude_types;
};

struct cors_settings {
    bool enabled = false;
    bool any_origin = false;                   ///< "*" was listed
    std::vector<std::string> origins;          ///< exact origins ("https://app.example.com")
    std::vector<std::string> origin_wildcards; ///< "https://*.example.com" patterns, kept whole
    bool any_method = false;
    std::vector<std::string> methods; ///< allowed methods (case-sensitive tokens)
    bool any_header = false;
    std::vector<std::string> headers; ///< allowed request headers, lower case
    bool credentials = false;
    std::string expose;    ///< Access-Control-Expose-Headers value ("" none)
    int64_t max_age = 600; ///< Access-Control-Max-Age (-1: not sent)
};

struct request_id_settings {
    bool enabled = false;
    std::string header = "X-Request-ID"; ///< read from and echoed in this field
};

/// The longest request id kept from a client (longer ones are replaced).
inline constexpr size_t max_request_id = 128;

struct response_features {
    compression_settings compression;
    cors_settings cors;
    request_id_settings request_id;
    std::string security_fields;             ///< "Name: value\r\n" lines added to every response
    std::vector<std::string> security_names; ///< their names, lower case (a handler's own value wins)
};

// Configuration (before the server starts). Each returns "" or an error naming the
// bad argument; nothing is changed on error.

/// `algorithms`: "zstd", "br", "gzip" in preference order; `levels`: one per algorithm
/// (-1: its default).
std::string configure_compression(response_features& f, uint64_t min_size, const std::vector<std::string>& algorithms,
                                  const std::vector<int>& levels, const std::vector<std::string>& exclude_types);
/// Origins: "*", exact "scheme://host[:port]", or "scheme://*.domain[:port]".
std::string configure_cors(response_features& f, const std::vector<std::string>& origins,
                           const std::vector<std::string>& methods, const std::vector<std::string>& headers,
                           bool credentials, const std::vector<std::string>& expose, int64_t max_age);
std::string configure_request_id(response_features& f, const std::string& header);
std::string configure_security_headers(response_features& f,
                                       const std::vector<std::pair<std::string, std::string>>& fields);

/// A CORS preflight's outcome (RFC-less: the Fetch standard's CORS protocol).
enum class preflight : uint8_t {
    none,    ///< not a preflight: the request goes on
    allowed, ///< answer 204 with ctx.extra_fields
    refused, ///< answer 403 (`reason` says why) without CORS headers
};

/// Per request, when any feature is on: negotiates the coding (ctx.coding), adds the
/// CORS and request-id fields to ctx.extra_fields, sets ctx.features. `request_id`
/// receives the id (the client's when valid, else a new one). A preflight is reported
/// for the caller to answer.
preflight decorate_request(const response_features& f, const request_head& head, request_context& ctx,
                           std::string& request_id, std::string& reason);

/// The body of a refused preflight: RFC 9457 problem+json naming the reason.
std::string preflight_problem(std::string_view reason);
/// The text Starlette's CORSMiddleware refuses a preflight with (FastAPI's conventions):
/// "Disallowed CORS " and every part refused, in its order: "origin, method, headers".
std::string preflight_refusal_text(const response_features& f, const request_head& head);

/// A client-sent request id worth keeping: 1..max_request_id of [A-Za-z0-9._:+/=@-].
bool valid_request_id(std::string_view id) noexcept;
/// A new request id: 32 lowercase hex digits (128 random bits, per-thread generator).
void new_request_id(std::string& out);

/// Whether a media type (a Content-Type value, parameters allowed) is worth compressing.
bool compressible_type(std::string_view content_type, const compression_settings& s) noexcept;

/// Whole bodies below this size are small: with an automatic level they get the fast one
/// (on a 2 KB JSON body gzip 6 costs 3.1x gzip 1's CPU for 5% less output, br 4 1.9x br 2's
/// for 30% less; BENCHMARKS.md, compression).
inline constexpr uint64_t small_body = 64 * 1024;

/// The level for a body of `size` bytes (0: a streamed piece).
int compression_level(const compression_settings& s, content_coding c, uint64_t size) noexcept;

/// Fill `s.small_offered` from `s.offered` and `s.auto_level` (configure_compression does).
void set_small_offered(compression_settings& s) noexcept;

/// The coding for a whole body of `size` bytes that plan_compression planned as
/// `planned`: under tiny_body, ctx.small_coding (the client's weights first, then
/// small_offered's order); otherwise `planned`.
content_coding whole_body_coding(const request_context& ctx, content_coding planned, uint64_t size) noexcept;

/// What compression does to one response.
struct compression_plan {
    bool vary = false;                                ///< add Vary: Accept-Encoding (the response depends on it)
    content_coding coding = content_coding::identity; ///< encode the body with this
};
/// Decided at the response's start: `fields` are the handler's checked lines, `length`
/// the body's length (-1 unknown), `file` a file body (never compressed: sendfile).
compression_plan plan_compression(const response_features& f, const request_context& ctx, uint16_t status,
                                  std::string_view fields, int64_t length, bool file) noexcept;
/// The fields compression adds ("Content-Encoding: zstd\r\nVary: Accept-Encoding\r\n").
void append_compression_fields(const compression_plan& p, std::string& out);
/// A whole native answer, compressed when the features and the request say so (every
/// protocol's respond() calls this): on true `fields` and `body` view `fields_out` and
/// `body_out` (Vary and Content-Encoding added, the body encoded; a library failure sends
/// the body as it is); false: nothing to do, both unchanged.
bool compress_answer(const request_context& ctx, uint16_t status, std::string_view& fields, std::string_view& body,
                     std::string& fields_out, std::string& body_out);
/// An application's answer at its head, compressed when the features and the request say
/// so (each protocol's app path calls this once per answer; native whole answers use
/// compress_answer). `length`: the declared body length (-1: none); `whole`: `body` is
/// the whole body (it came with the head and the end); `file`: the body is a file (never
/// compressed: sendfile). When the plan says Vary, `fields` views `fields_out` with
/// Content-Encoding and Vary added, and the body is to be coded: a whole one is, into
/// `body_out`; a streamed one gets `encoder`, which codes its pieces. A library failure,
/// or a whole body that is not its declared length (the framing then refuses it as
/// usual), goes as it is: the plan returned says identity (and Vary still).
compression_plan compress_head(const request_context& ctx, uint16_t status, int64_t length, bool whole, bool file,
                               std::string_view body, std::string_view& fields, std::string& fields_out,
                               std::string& body_out, std::unique_ptr<body_encoder>& encoder);

/// Per-thread buffers for a whole answer's compressed fields and body, reused from one
/// response to the next so that compressing a small body allocates nothing (the coded
/// body is copied into the output queue, which coalesces small writes anyway). release()
/// after each use gives back a buffer a large body grew past `kept_capacity`.
struct answer_scratch {
    static constexpr size_t kept_capacity = 256 * 1024;
    std::string fields;
    std::string body;
    void release() noexcept {
        if (body.capacity() > kept_capacity) {
            std::string().swap(body);
        }
        if (fields.capacity() > kept_capacity) {
            std::string().swap(fields);
        }
    }
};
answer_scratch& thread_answer_scratch() noexcept;

/// Security fields (and ctx.extra_fields) for a response whose handler gave `app_fields`:
/// a security header the handler set itself is not added again.
void append_feature_fields(const request_context& ctx, std::string_view app_fields, std::string& out);

} // namespace ringbolt::http
