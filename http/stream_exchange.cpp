// What HTTP/2 and HTTP/3 streams do alike (see stream_exchange.hpp): the request head
// synthesized from the pseudo-headers, the response head as a header list, native answers,
// the app's messages and file chunks.
#include "http/stream_exchange.hpp"

#include "core/strings.hpp"
#include "http/http_error.hpp"
#include "http/problem.hpp"
#include "http/response_features.hpp"
#include "http/response_writer.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <unistd.h>

namespace ringbolt::http {

namespace {

bool connection_specific(std::string_view name) noexcept {
    return core::iequals(name, "connection") || core::iequals(name, "keep-alive") ||
           core::iequals(name, "proxy-connection") || core::iequals(name, "transfer-encoding") ||
           core::iequals(name, "upgrade");
}

} // namespace

void header_list::add(std::string_view name, std::string_view value) {
    size_t at = _store.size();
    _store.append(name);
    for (char *p = _store.data() + at, *end = p + name.size(); p < end; ++p) {
        *p = core::ascii_lower(*p); // in place: no growth check a byte
    }
    _store.append(value);
    _spans.push_back({at, name.size(), value.size()});
}

void header_list::add_lines(std::string_view lines) {
    while (!lines.empty()) {
        size_t eol = lines.find("\r\n");
        std::string_view line = lines.substr(0, eol);
        lines = eol == std::string_view::npos ? std::string_view() : lines.substr(eol + 2);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            continue;
        }
        std::string_view name = line.substr(0, colon);
        if (connection_specific(name)) {
            continue;
        }
        add(name, core::trim_ows(line.substr(colon + 1)));
    }
}

bool read_file_piece(const stream_piece& p, size_t take, std::string& buf) {
    buf.assign(take, '\0');
    size_t got = 0;
    while (got < take) {
        ssize_t r = ::pread(p.file->fd, buf.data() + got, take - got, static_cast<off_t>(p.offset + got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += static_cast<size_t>(r);
    }
    return got == take;
}

void stream_exchange::take_field(std::string_view name, std::string_view value, size_t max_fields, uint64_t max_bytes) {
    field_bytes += name.size() + value.size() + 32;
    if (++field_count > max_fields || field_bytes > max_bytes) {
        headers_over = true;
        return;
    }
    if (headers_over) {
        return;
    }
    if (!name.empty() && name[0] == ':') {
        if (name == ":method") {
            method.assign(value);
        } else if (name == ":path") {
            path.assign(value);
        } else if (name == ":authority") {
            authority.assign(value);
        } else if (name == ":protocol") {
            // RFC 8441 §4, RFC 9220 §3: an extended CONNECT (the libraries let :protocol
            // through only after our SETTINGS offered it, and only on a CONNECT)
            tunnel = std::make_unique<stream_tunnel>();
            tunnel->protocol.assign(value);
        }
        return; // :scheme: the connection knows (peer.secure; QUIC is always TLS)
    }
    if (name == "cookie") {
        if (!cookie.empty()) {
            cookie.append("; ");
        }
        cookie.append(value);
        return;
    }
    if (name == "content-length") {
        int64_t v = 0;
        for (char c : value) {
            v = c >= '0' && c <= '9' && v < (int64_t{1} << 50) ? v * 10 + (c - '0') : -1;
            if (v < 0) {
                break;
            }
        }
        content_length = value.empty() ? -1 : v; // the library checks it against the DATA
    }
    if (name == "host" && !authority.empty()) {
        return; // :authority wins
    }
    fields.append(name).append(": ").append(value).append("\r\n");
}

report_result stream_exchange::report(protocol& conn, uint64_t id, uint8_t version, bool body_follows, uint32_t slot,
                                      uint32_t gen, const peer_address& peer, const parser_limits& limits,
                                      protocol_env& env, request_head& out, bool upgrade) {
    if (head.empty()) {
        head.reserve(method.size() + path.size() + authority.size() + fields.size() + cookie.size() + 48);
        head.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
        if (!authority.empty()) {
            head.append("host: ").append(authority).append("\r\n");
        }
        head.append(fields);
        if (!cookie.empty()) {
            head.append("cookie: ").append(cookie).append("\r\n");
        }
        head.append("\r\n");
        std::string().swap(fields);
        std::string().swap(cookie);
    }
    parse_outcome r = parse_request_head(head, out, limits);
    if (r.status != parse_status::complete || r.consumed != head.size()) [[unlikely]] {
        // What HPACK or QPACK allowed but HTTP does not (a bad method token or target, a
        // field value the HTTP/1.1 rules refuse, a singleton such as Authorization twice):
        // the same answer HTTP/1.1 gives, by the same parser.
        env.counters.parse_errors.add();
        http_error err = r.status == parse_status::error ? r.error : http_error::bad_request;
        return {false, status_of(err), problem_of(err), problem_content_type};
    }
    out.version_minor = version;
    // Upgrade and Connection are malformed in HTTP/2 and HTTP/3 (RFC 9113 §8.2.2, RFC 9114
    // §4.2): a stream asks for a WebSocket only by its extended CONNECT.
    out.upgrade = upgrade;
    ctx = request_context{version, out.method_id == method_head, true};
    request_event ev{out, head, body, body_follows, id, ctx, slot, gen, peer};
    std::shared_ptr<http::body_stream> watching;
    dispatcher::verdict v = env.dispatch.on_request(conn, ev, env, watching);
    if (v == dispatcher::verdict::buffer) {
        reported = false; // read the whole body, then report it again
        return {};
    }
    env.counters.requests.add();
    if (v == dispatcher::verdict::answered) {
        return {};
    }
    if (v == dispatcher::verdict::streaming) {
        from_app = true;
        body_stream = std::move(watching);
        if (!body.empty()) {
            body_stream->push(body); // DATA that came with the head
            std::string().swap(body);
        }
        return {true, 0, {}};
    }
    if (v == dispatcher::verdict::to_app || v == dispatcher::verdict::upgrade) {
        from_app = true;
        watch = std::move(watching);
        return {true, 0, {}};
    }
    // buffer / streaming are only asked for bodies that follow: never here.
    return {false, 500, "unexpected dispatch verdict"};
}

bool stream_exchange::take_data(std::string_view data, uint64_t max_body) {
    if (body_stream) {
        if (body_failed) {
            return true;
        }
        if (received > max_body) {
            body_failed = true; // the app's read raises (413) and it answers
            body_stream->fail(body_error::too_large);
            return true;
        }
        body_stream->push(data);
        return true;
    }
    if (reported) {
        return true; // answered already (413, 431): the rest is dropped
    }
    if (body.size() + data.size() > max_body) {
        return false;
    }
    body.append(data);
    return true;
}

namespace {

// A buffer emptied for the next stream: its room kept unless it grew large.
void empty_keeping_room(std::string& s) noexcept {
    if (s.capacity() > 64 * 1024) {
        std::string().swap(s);
    } else {
        s.clear();
    }
}

} // namespace

void stream_exchange::reuse() noexcept {
    // Every field, in the order declared: one added to the struct is reset here too (the
    // size check below fails until it is).
    static_assert(sizeof(stream_exchange) == 552, "a field was added to stream_exchange: reset it in reuse()");
    for (std::string* s : {&method, &path, &authority, &fields, &cookie, &head, &body, &trailers}) {
        empty_keeping_room(*s);
    }
    content_length = -1;
    field_bytes = 0;
    field_count = 0;
    body_stream.reset();
    clock = stream_clock{};
    received = 0;
    request_ended = false;
    body_failed = false;
    headers_over = false;
    headers_done = false;
    reported = false;
    ctx = request_context{};
    phase = response_phase::owed;
    from_app = false;
    no_body = false;
    deferred = false;
    declared = -1;
    given = 0;
    pending.clear();
    pending_bytes = 0;
    control.reset();
    encoder.reset();
    watch.reset();
    tunnel.reset();
}

void stream_exchange::start(header_list& list, uint16_t status, std::string_view fields_in, int64_t length,
                            bool has_date, bool has_server, protocol_env* env) {
    static const server_fields defaults;
    const server_fields& added = env != nullptr && env->fields != nullptr ? *env->fields : defaults;
    bool forbids = status_forbids_body(status);
    no_body = forbids || ctx.head_request;
    declared = length;
    phase = response_phase::started;
    std::string feature_fields;
    if (ctx.features != nullptr) [[unlikely]] {
        append_feature_fields(ctx, fields_in, feature_fields);
    }
    list.reserve(fields_in.size() + feature_fields.size() + added.extra.size() + 96);
    char code[3] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10)};
    list.add(":status", {code, 3});
    if (!has_server) {
        list.add_lines(added.server);
    }
    if (!has_date && added.date && env != nullptr) {
        list.add("date", env->date);
    }
    list.add_lines(added.extra);
    list.add_lines(fields_in);
    list.add_lines(feature_fields);
    char len[24];
    if (!forbids && length >= 0) {
        auto end = std::to_chars(len, len + sizeof(len), length).ptr;
        list.add("content-length", {len, static_cast<size_t>(end - len)});
    }
    if (env != nullptr) {
        env->counters.count_status(status);
    }
}

void stream_exchange::queue_native(native_answer& a) {
    if (phase != response_phase::started) [[unlikely]] {
        return; // the head could not be submitted: the stream was reset
    }
    if (!no_body) {
        auto length = static_cast<uint64_t>(a.start.length);
        stream_piece& p = pending.emplace_back();
        if (a.file) {
            p.file = std::move(a.file);
            p.offset = a.offset;
        } else {
            p.bytes.assign(a.bytes);
        }
        p.left = length;
        pending_bytes += length;
    }
    phase = response_phase::ended;
}

message_outcome stream_exchange::take_head(app_response& m, head_plan& plan) {
    plan.has_body = (m.parts & app_response::part_body) != 0;
    plan.end = (m.parts & app_response::part_end) != 0;
    plan.abort = (m.parts & app_response::part_abort) != 0;
    if (!(m.parts & app_response::part_head)) {
        // A body before the head: the producer is broken.
        return phase == response_phase::owed ? message_outcome::refused : message_outcome::going;
    }
    if (phase != response_phase::owed || m.has_upgrade() || m.start.status < 200) [[unlikely]] {
        // A second head, a 101 (no upgrades inside HTTP/2, RFC 9113 §8.6, nor HTTP/3) or
        // an interim status as the answer: the producer is broken.
        if (m.stream) {
            m.stream->on_closed();
        }
        return message_outcome::refused;
    }
    control = std::move(m.stream);
    const response_head& h = m.start;
    std::string_view head_fields = h.fields.empty() ? h.static_fields : std::string_view(h.fields);
    std::string_view whole_body = m.body_bytes();
    bool whole = plan.has_body && plan.end && !plan.abort && !m.has_file();
    int64_t length = h.content_length;
    if (ctx.features != nullptr && ctx.features->compression.enabled && !m.has_file() && !plan.abort) [[unlikely]] {
        // Compressed whole (the body coded here) or streamed (piece by piece, each
        // flushed, by the encoder), as on HTTP/1.1.
        compression_plan p = compress_head(ctx, h.status, length, whole, false, whole_body, head_fields,
                                           plan.fields_store, plan.coded, encoder);
        if (p.coding != content_coding::identity) {
            if (whole) {
                if (control) {
                    control->on_sent(whole_body.size()); // the producer's bytes are consumed here
                }
                m.body = std::move(plan.coded);
                if (m.more) {
                    m.more->borrowed = {};
                    m.more->keep.reset();
                }
                length = static_cast<int64_t>(m.body.size());
            } else {
                length = -1; // the coded length is known only at the end
            }
        }
    }
    if (whole && length < 0) {
        length = static_cast<int64_t>(m.body_bytes().size());
    }
    plan.status = h.status;
    plan.fields = head_fields;
    plan.length = length;
    plan.has_date = h.has_date;
    plan.has_server = h.has_server;
    plan.body_follows = plan.has_body || !plan.end;
    return message_outcome::going;
}

message_outcome stream_exchange::take_body(app_response& m, head_plan& plan) {
    bool has_body = plan.has_body;
    bool abort = plan.abort;
    if (encoder && !abort && (has_body || plan.end)) [[unlikely]] {
        abort = !code_piece(m, has_body, plan.end);
        has_body = false; // what the piece held went through the encoder
    }
    if (has_body && !abort) {
        uint64_t n = m.has_file() ? m.more->file_length : m.body_bytes().size();
        if (declared >= 0 && given + n > static_cast<uint64_t>(declared)) [[unlikely]] {
            abort = true; // more than the announced Content-Length
        } else if (no_body) {
            if (control && !m.has_file()) {
                control->on_sent(n); // nothing goes out: the producer goes on
            }
        } else if (n > 0) {
            given += n;
            stream_piece& p = pending.emplace_back();
            if (m.has_file()) {
                p.file = std::move(m.more->file);
                p.offset = m.more->file_offset;
            } else if (!m.borrowed().empty()) {
                p.view = m.more->borrowed;
                p.keep = std::move(m.more->keep);
            } else {
                p.bytes = std::move(m.body);
            }
            p.left = n;
            pending_bytes += n;
        }
    }
    if (abort) [[unlikely]] {
        return message_outcome::broken; // the client can tell the response is incomplete
    }
    if (!plan.end) {
        return message_outcome::going;
    }
    if (declared >= 0 && given != static_cast<uint64_t>(declared) && !no_body) [[unlikely]] {
        return message_outcome::broken; // fewer bytes than announced
    }
    phase = response_phase::ended;
    if (m.more) {
        trailers = std::move(m.more->trailers);
    } else {
        trailers.clear();
    }
    if (watch) {
        watch->finish();
        watch.reset();
    }
    return message_outcome::ended;
}

// One piece of a compressed streamed answer: encoded and flushed (the end closes the
// coded stream; its trailer is the last piece), queued with a credit that maps the coded
// bytes sent onto the producer's bytes, so its flow control holds. False: the answer
// cannot go on (a file piece, which cannot be compressed here, or a library error).
bool stream_exchange::code_piece(app_response& m, bool has_body, bool end) {
    if (has_body && m.has_file()) {
        return false;
    }
    std::string_view in = has_body ? m.body_bytes() : std::string_view();
    std::string coded;
    if (!encoder->write(in, end, coded)) {
        return false;
    }
    if (end) {
        encoder.reset(); // its memory goes with the stream's end
    }
    if (no_body || coded.empty()) {
        if (control && !in.empty()) {
            control->on_sent(in.size()); // nothing goes out for it: the producer goes on
        }
        return true;
    }
    given += coded.size();
    stream_piece& p = pending.emplace_back();
    p.left = coded.size();
    if (control && !in.empty()) {
        p.credit = std::make_shared<coded_credit>(control, in.size(), coded.size());
    }
    p.bytes = std::move(coded);
    pending_bytes += p.left;
    return true;
}

void stream_exchange::stop() noexcept {
    if (control && !over(phase)) {
        control->on_closed();
    }
    control.reset();
    phase = response_phase::failed;
    pending.clear();
    pending_bytes = 0;
}

void stream_exchange::client_gone() noexcept {
    if (watch) {
        watch->fail(body_error::disconnect);
        watch.reset();
    }
    if (body_stream && !body_failed) {
        body_failed = true;
        body_stream->fail(body_error::disconnect);
    }
}

bool stream_exchange::end_body_stream() noexcept {
    if (!body_stream) {
        return false;
    }
    if (!body_failed) {
        body_stream->finish();
    }
    body_stream.reset();
    body_failed = true; // nothing more goes to the app
    return true;
}

bool stream_exchange::drop_body() noexcept {
    if (!body_stream || body_failed) {
        return false;
    }
    body_failed = true;
    body_stream->fail(body_error::disconnect);
    return true;
}

void stream_protocol::on_peer_eof(protocol_env& env) {
    (void)env;
    _closing = true;
    // No frame comes on any stream any more: each stream's request side is over. A body
    // being read fails; a WebSocket ends as its ended stream ends it (RFC 8441 §5), so
    // its app hears 1006 now, not once a ping goes unanswered.
    each_stream([](stream_protocol& p, stream_exchange& st) {
        st.client_gone();
        if (st.tunnel && !st.request_ended) {
            st.request_ended = true;
            st.clock.body_ends();
            p.tunnel_peer_end(st);
        }
    });
}

void stream_protocol::respond(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                              std::string_view body, protocol_env& env) {
    std::string fields_out;
    std::string body_out;
    compress_answer(ctx, status, fields, body, fields_out, body_out);
    respond_native(
        {seq, ctx, {status, fields, static_cast<int64_t>(body.size()), false, false, !body.empty()}, body, nullptr, 0},
        env);
}

void stream_protocol::respond_file(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                                   std::shared_ptr<core::file_handle> file, uint64_t offset, uint64_t length,
                                   protocol_env& env) {
    // A null file (a HEAD request: only the length is announced) or an empty range: no
    // DATA follows.
    bool body_follows = file != nullptr && length > 0;
    respond_native({seq,
                    ctx,
                    {status, fields, static_cast<int64_t>(length), false, false, body_follows},
                    {},
                    std::move(file),
                    offset},
                   env);
}

} // namespace ringbolt::http
