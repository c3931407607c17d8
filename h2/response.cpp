// HTTP/2 responses: native answers and the app's messages become HEADERS (fields as
// HPACK pairs) and DATA frames, written without a copy into nghttp2 (the payload goes
// from the stream's pending pieces straight into the output queue), paced by the
// client's windows and by the output queue (the drain hook).
#include "h2/stream.hpp"

#include "core/strings.hpp"
#include "http/body_encoder.hpp"
#include "http/response_features.hpp"
#include "http/response_writer.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <unistd.h>
#include <vector>

namespace ringbolt::h2 {

namespace {

connection& self(void* user_data) noexcept {
    return *static_cast<connection*>(user_data);
}

// RFC 9113 §8.2.2: connection-specific fields never appear in HTTP/2.
bool connection_specific(std::string_view name) noexcept {
    return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "proxy-connection") ||
           iequals(name, "transfer-encoding") || iequals(name, "upgrade");
}

// Response fields as HPACK name/value pairs: "Name: value\r\n" lines, names lowercased
// into `store` (reserved up front: the pairs point into it).
class field_list {
  public:
    explicit field_list(size_t bytes) { _store.reserve(bytes + 64); }
    void add(std::string_view name, std::string_view value) {
        size_t at = _store.size();
        for (char c : name) {
            _store.push_back(ascii_lower(c));
        }
        _store.append(value);
        _spans.push_back({at, name.size(), value.size()});
    }
    void add_lines(std::string_view lines) {
        while (!lines.empty()) {
            size_t eol = lines.find("\r\n");
            std::string_view line = lines.substr(0, eol);
            lines = eol == std::string_view::npos ? std::string_view() : lines.substr(eol + 2);
            size_t colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0) {
                continue;
            }
            std::string_view name = line.substr(0, colon);
            std::string_view value = trim_ows(line.substr(colon + 1));
            if (connection_specific(name)) {
                continue;
            }
            add(name, value);
        }
    }
    std::vector<nghttp2_nv>& nva() {
        _nv.clear();
        for (const span& s : _spans) {
            auto* base = reinterpret_cast<uint8_t*>(_store.data());
            _nv.push_back({base + s.at, base + s.at + s.name, s.name, s.value, NGHTTP2_NV_FLAG_NONE});
        }
        return _nv;
    }

  private:
    struct span {
        size_t at;
        size_t name;
        size_t value;
    };
    std::string _store;
    std::vector<span> _spans;
    std::vector<nghttp2_nv> _nv;
};

ssize_t cb_read(nghttp2_session*, int32_t stream_id, uint8_t*, size_t length, uint32_t* data_flags,
                nghttp2_data_source*, void* user) {
    return self(user).read_body(stream_id, length, data_flags);
}

} // namespace

// The output queue drained down to the frame that carried the hook: responses that
// waited for it go on (called on the reactor thread as the bytes reach the kernel).
void connection::on_output_drained() {
    if (!_out_blocked || _session == nullptr) {
        return;
    }
    _out_blocked = false;
    for (auto& [id, st] : _streams) {
        if (st->pending_bytes > 0) {
            resume(*st);
        }
    }
    flush();
}

void connection::start_response(stream& st, uint16_t status, std::string_view fields, int64_t length, bool has_date,
                                bool has_server, bool body_follows) {
    static const http::server_fields defaults;
    const http::server_fields& added = _env != nullptr && _env->fields != nullptr ? *_env->fields : defaults;
    bool forbids = http::status_forbids_body(status);
    st.no_body = forbids || st.ctx.head_request;
    st.declared = length;
    st.started = true;
    std::string feature_fields;
    if (st.ctx.features != nullptr) [[unlikely]] {
        http::append_feature_fields(st.ctx, fields, feature_fields);
    }
    field_list list(fields.size() + feature_fields.size() + added.extra.size() + 96);
    char code[3] = {static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                    static_cast<char>('0' + status % 10)};
    list.add(":status", {code, 3});
    if (!has_server) {
        list.add_lines(added.server);
    }
    if (!has_date && added.date && _env != nullptr) {
        list.add("date", _env->date);
    }
    list.add_lines(added.extra);
    list.add_lines(fields);
    list.add_lines(feature_fields);
    char len[24];
    if (!forbids && length >= 0) {
        int n = std::snprintf(len, sizeof(len), "%lld", static_cast<long long>(length));
        list.add("content-length", {len, static_cast<size_t>(n)});
    }
    if (_env != nullptr) {
        _env->counters.count_status(status);
    }
    std::vector<nghttp2_nv>& nva = list.nva();
    if (body_follows && !st.no_body) {
        nghttp2_data_provider prd;
        prd.source.ptr = nullptr;
        prd.read_callback = cb_read;
        nghttp2_submit_response(_session, st.id, nva.data(), nva.size(), &prd);
    } else {
        st.no_body = true;
        nghttp2_submit_response(_session, st.id, nva.data(), nva.size(), nullptr);
    }
}

template <class Body>
void connection::respond_native(uint64_t seq, const http::request_context& ctx, uint16_t status,
                                std::string_view fields, uint64_t length, bool body_follows, http::protocol_env& env,
                                Body&& body) {
    stream* st = find(seq);
    if (st == nullptr || st->started || _session == nullptr) {
        return;
    }
    http::protocol_env* saved = _env;
    _env = &env;
    if (&st->ctx != &ctx) {
        st->ctx = ctx;
    }
    start_response(*st, status, fields, static_cast<int64_t>(length), false, false, body_follows);
    if (!st->no_body) {
        stream::piece& p = st->pending.emplace_back();
        body(p);
        p.left = length;
        st->pending_bytes += length;
    }
    st->ended = true;
    if (saved == nullptr) {
        flush(); // outside a receive (an app message path): send now
    }
    _env = saved;
    update_deadline();
}

void connection::respond(uint64_t seq, const http::request_context& ctx, uint16_t status, std::string_view fields,
                         std::string_view body, http::protocol_env& env) {
    std::string all;
    std::string coded;
    http::compress_answer(ctx, status, fields, body, all, coded);
    respond_native(seq, ctx, status, fields, body.size(), !body.empty(), env,
                   [body](stream::piece& p) { p.bytes.assign(body); });
}

void connection::respond_file(uint64_t seq, const http::request_context& ctx, uint16_t status, std::string_view fields,
                              std::shared_ptr<http::file_handle> file, uint64_t offset, uint64_t length,
                              http::protocol_env& env) {
    // A null file (a HEAD request) or an empty range: no DATA follows.
    bool body_follows = file != nullptr && length > 0;
    respond_native(seq, ctx, status, fields, length, body_follows, env, [&file, offset](stream::piece& p) {
        p.file = std::move(file);
        p.offset = offset;
    });
}

void connection::reset_stream(stream& st, uint32_t error_code) {
    if (st.control && !st.ended) {
        st.control->on_closed();
    }
    st.control.reset();
    st.ended = true;
    st.pending.clear();
    st.pending_bytes = 0;
    if (st.from_app) {
        st.from_app = false;
        --_app_streams;
    }
    nghttp2_submit_rst_stream(_session, NGHTTP2_FLAG_NONE, st.id, error_code);
}

void connection::on_app_message(http::app_response&& m, http::protocol_env& env) {
    if (m.parts == http::app_response::part_read_more || _session == nullptr) {
        if (m.stream && _session == nullptr) {
            m.stream->on_closed();
        }
        if (_session != nullptr) {
            // The app took streamed body bytes: WINDOW_UPDATE for what it took.
            if (stream* sp = find(m.seq); sp != nullptr && sp->body_stream) {
                _now_s = env.now_s;
                consume(*sp);
                flush();
            }
        }
        return;
    }
    stream* sp = find(m.seq);
    if (sp == nullptr || sp->ended) [[unlikely]] {
        if (m.stream) {
            m.stream->on_closed(); // the stream is gone (reset by the client, or answered)
        }
        return;
    }
    stream& st = *sp;
    _env = &env;
    _now_s = env.now_s;
    _output_limit = env.output_limit;
    bool has_body = (m.parts & http::app_response::part_body) != 0;
    bool end = (m.parts & http::app_response::part_end) != 0;
    bool abort = (m.parts & http::app_response::part_abort) != 0;
    if (m.parts & http::app_response::part_head) {
        if (st.started || m.upgrade || m.start.status < 200) [[unlikely]] {
            // A second head, a 101 (no upgrades inside HTTP/2, RFC 9113 §8.6) or an
            // interim status as the answer: the producer is broken.
            if (m.stream) {
                m.stream->on_closed();
            }
            reset_stream(st, NGHTTP2_INTERNAL_ERROR);
            flush();
            _env = nullptr;
            return;
        }
        st.control = std::move(m.stream);
        const http::response_head& h = m.start;
        std::string_view fields = h.fields.empty() ? h.static_fields : std::string_view(h.fields);
        std::string_view body = !m.borrowed.empty() ? m.borrowed : std::string_view(m.body);
        bool whole = has_body && end && !abort && !m.file;
        int64_t length = h.content_length;
        std::string all;
        std::string coded;
        if (st.ctx.features != nullptr && st.ctx.features->compression.enabled && !m.file && !abort) [[unlikely]] {
            // Compressed whole (the body coded here) or streamed (piece by piece, each
            // flushed, by st.encoder), as on HTTP/1.1.
            http::compression_plan p =
                http::compress_head(st.ctx, h.status, length, whole, false, body, fields, all, coded, st.encoder);
            if (p.coding != http::content_coding::identity) {
                if (whole) {
                    if (st.control) {
                        st.control->on_sent(body.size()); // the producer's bytes are consumed here
                    }
                    m.body = std::move(coded);
                    m.borrowed = {};
                    m.keep.reset();
                    length = static_cast<int64_t>(m.body.size());
                } else {
                    length = -1; // the coded length is known only at the end
                }
            }
        }
        if (whole && length < 0) {
            length = static_cast<int64_t>(!m.borrowed.empty() ? m.borrowed.size() : m.body.size());
        }
        bool body_follows = has_body || !end;
        start_response(st, h.status, fields, length, h.has_date, h.has_server, body_follows);
    } else if (!st.started) [[unlikely]] {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR); // body before head
        flush();
        _env = nullptr;
        return;
    }
    if (st.encoder && !abort && (has_body || end)) [[unlikely]] {
        abort = !code_piece(st, m, has_body, end);
        has_body = false; // what the piece held went through the encoder
    }
    if (has_body && !abort) {
        uint64_t n = m.file ? m.file_length : (!m.borrowed.empty() ? m.borrowed.size() : m.body.size());
        if (st.declared >= 0 && st.given + n > static_cast<uint64_t>(st.declared)) [[unlikely]] {
            abort = true; // more than the announced Content-Length
        } else if (st.no_body) {
            if (st.control && !m.file) {
                st.control->on_sent(n); // nothing goes out: the producer goes on
            }
        } else if (n > 0) {
            st.given += n;
            stream::piece& p = st.pending.emplace_back();
            if (m.file) {
                p.file = std::move(m.file);
                p.offset = m.file_offset;
            } else if (!m.borrowed.empty()) {
                p.view = m.borrowed;
                p.keep = std::move(m.keep);
            } else {
                p.bytes = std::move(m.body);
            }
            p.left = n;
            st.pending_bytes += n;
        }
    }
    if (abort) [[unlikely]] {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR); // the client can tell the response is incomplete
    } else if (end) {
        if (st.declared >= 0 && st.given != static_cast<uint64_t>(st.declared) && !st.no_body) [[unlikely]] {
            reset_stream(st, NGHTTP2_INTERNAL_ERROR); // fewer bytes than announced
        } else {
            st.ended = true;
            st.trailers = std::move(m.trailers);
            if (st.from_app) {
                st.from_app = false;
                --_app_streams;
            }
            if (st.watch) {
                st.watch->finish();
                st.watch.reset();
            }
            if (st.body_stream && !st.body_failed) {
                // Answered before its body ended: the rest is read and dropped (RFC 9113
                // §8.1 lets the client stop); the app no longer reads it.
                st.body_failed = true;
                st.body_stream->fail(http::body_error::disconnect);
                consume(st);
            }
        }
    }
    resume(st);
    flush();
    _env = nullptr;
    update_deadline();
}

// One piece of a compressed streamed answer: encoded and flushed (the end closes the
// coded stream; its trailer is the last piece), queued with a credit that maps the coded
// bytes sent onto the producer's bytes, so its flow control holds. False: the answer
// cannot go on (a file piece, which cannot be compressed here, or a library error).
bool connection::code_piece(stream& st, http::app_response& m, bool has_body, bool end) {
    if (has_body && m.file) {
        return false;
    }
    std::string_view in = has_body ? (!m.borrowed.empty() ? m.borrowed : std::string_view(m.body)) : std::string_view();
    std::string coded;
    if (!st.encoder->write(in, end, coded)) {
        return false;
    }
    if (end) {
        st.encoder.reset(); // its memory goes with the stream's end
    }
    if (st.no_body || coded.empty()) {
        if (st.control && !in.empty()) {
            st.control->on_sent(in.size()); // nothing goes out for it: the producer goes on
        }
        return true;
    }
    st.given += coded.size();
    stream::piece& p = st.pending.emplace_back();
    p.left = coded.size();
    if (st.control && !in.empty()) {
        p.credit = std::make_shared<http::coded_credit>(st.control, in.size(), coded.size());
    }
    p.bytes = std::move(coded);
    st.pending_bytes += p.left;
    return true;
}

void connection::resume(stream& st) {
    if (st.deferred) {
        st.deferred = false;
        nghttp2_session_resume_data(_session, st.id);
    }
}

long connection::read_body(int32_t id, size_t length, uint32_t* flags) {
    stream* st = find(static_cast<uint64_t>(id));
    if (st == nullptr) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (st->pending_bytes == 0) {
        if (!st->ended) {
            st->deferred = true; // resumed when the producer gives more
            return NGHTTP2_ERR_DEFERRED;
        }
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!st->trailers.empty()) {
            field_list list(st->trailers.size());
            list.add_lines(st->trailers);
            std::vector<nghttp2_nv>& nva = list.nva();
            if (nghttp2_submit_trailer(_session, id, nva.data(), nva.size()) == 0) {
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            }
        }
        return 0;
    }
    if (_hook_armed && _out.bytes() >= _output_limit) {
        // Backpressure: the client reads slower than we produce. Wait until the queue
        // drains (the hook on the DATA frame header that filled it says when; without a
        // hook in the queue this frame goes and carries one).
        st->deferred = true;
        _out_blocked = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, st->pending_bytes));
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (st->ended && n == st->pending_bytes && st->trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<long>(n);
}

int connection::send_data(int32_t id, const uint8_t* framehd, size_t length) {
    stream* st = find(static_cast<uint64_t>(id));
    if (st == nullptr || st->pending_bytes < length) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (_out.bytes() + length >= _output_limit) {
        // This frame fills the queue: its header tells us when the queue has drained to it.
        _out.append_credited({reinterpret_cast<const char*>(framehd), 9}, _hook);
        _hook_armed = true;
    } else {
        _out.append({reinterpret_cast<const char*>(framehd), 9});
    }
    size_t left = length;
    while (left > 0) {
        stream::piece& p = st->pending.front();
        size_t take = static_cast<size_t>(std::min<uint64_t>(left, p.left));
        if (p.file) {
            std::string buf(take, '\0');
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
            if (got < take) {
                // The file shrank under the response: the frame cannot be completed.
                _failed = true;
                return NGHTTP2_ERR_CALLBACK_FAILURE;
            }
            if (st->control) {
                _out.append_owned(std::move(buf), st->control);
            } else {
                _out.append_owned(std::move(buf));
            }
            p.offset += take;
        } else {
            std::string_view all = p.bytes.empty() ? p.view : std::string_view(p.bytes);
            std::string_view part = all.substr(static_cast<size_t>(p.offset), take);
            if (p.credit) [[unlikely]] {
                _out.append_credited(part, p.credit);
            } else if (st->control) {
                _out.append_credited(part, st->control);
            } else {
                _out.append(part);
            }
            p.offset += take;
        }
        p.left -= take;
        left -= take;
        st->pending_bytes -= take;
        if (p.left == 0) {
            st->pending.pop_front();
        }
    }
    return 0;
}

} // namespace ringbolt::h2
