// HTTP/3 responses: native answers and the app's messages become a HEADERS frame (fields
// as QPACK pairs) and DATA frames. Body pieces are handed to the session without a copy
// (file ranges are read in chunks) and held until the transport reports them acknowledged:
// QUIC may have to send them again. A streaming producer is credited as its bytes are
// acknowledged, so what it may have unacknowledged is its own high-water mark.
#include "h3/stream.hpp"

#include "core/strings.hpp"
#include "http/body_encoder.hpp"
#include "http/response_features.hpp"
#include "http/response_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <unistd.h>
#include <vector>

namespace ringbolt::h3 {

namespace {

// RFC 9114 §4.2: connection-specific fields never appear in HTTP/3.
bool connection_specific(std::string_view name) noexcept {
    return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "proxy-connection") ||
           iequals(name, "transfer-encoding") || iequals(name, "upgrade");
}

// Response fields as QPACK pairs: "Name: value\r\n" lines, names lowercased into a store
// reserved up front (the pairs point into it).
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
            if (connection_specific(name)) {
                continue;
            }
            add(name, trim_ows(line.substr(colon + 1)));
        }
    }
    std::vector<field>& fields() {
        _fields.clear();
        for (const span& s : _spans) {
            _fields.push_back({std::string_view(_store).substr(s.at, s.name),
                               std::string_view(_store).substr(s.at + s.name, s.value)});
        }
        return _fields;
    }

  private:
    struct span {
        size_t at;
        size_t name;
        size_t value;
    };
    std::string _store;
    std::vector<span> _spans;
    std::vector<field> _fields;
};

} // namespace

void connection::start_response(stream& st, uint16_t status, std::string_view fields, int64_t length, bool has_date,
                                bool has_server, bool body_follows) {
    static const http::server_fields defaults;
    http::protocol_env& e = env();
    const http::server_fields& added = e.fields != nullptr ? *e.fields : defaults;
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
    if (!has_date && added.date) {
        list.add("date", e.date);
    }
    list.add_lines(added.extra);
    list.add_lines(fields);
    list.add_lines(feature_fields);
    char len[24];
    if (!forbids && length >= 0) {
        int n = std::snprintf(len, sizeof(len), "%lld", static_cast<long long>(length));
        list.add("content-length", {len, static_cast<size_t>(n)});
    }
    e.counters.count_status(status);
    bool with_body = body_follows && !st.no_body;
    if (!with_body) {
        st.no_body = true;
    }
    if (int rv = _session->submit_response(st.id, list.fields(), with_body); rv != 0) [[unlikely]] {
        abort_response(st, error::internal_error);
        return;
    }
    if (_host != nullptr) {
        _host->want_write();
    }
}

template <class Body>
void connection::respond_native(uint64_t seq, const http::request_context& ctx, uint16_t status,
                                std::string_view fields, uint64_t length, bool body_follows, http::protocol_env& env,
                                Body&& body) {
    stream* st = find(static_cast<int64_t>(seq));
    if (st == nullptr || st->started || st->write_closed || _session == nullptr || _failed) {
        return;
    }
    http::protocol_env* saved = _env;
    _env = &env;
    if (&st->ctx != &ctx) {
        st->ctx = ctx;
    }
    start_response(*st, status, fields, static_cast<int64_t>(length), false, false, body_follows);
    if (!st->no_body && !st->write_closed) {
        stream::piece& p = st->pending.emplace_back();
        body(p);
        p.left = length;
        st->pending_bytes += length;
    }
    st->ended = true;
    _env = saved;
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
    bool body_follows = file != nullptr && length > 0; // a null file: HEAD (only the length is announced)
    respond_native(seq, ctx, status, fields, length, body_follows, env, [&file, offset](stream::piece& p) {
        p.file = std::move(file);
        p.offset = offset;
    });
}

void connection::abort_response(stream& st, uint64_t code) noexcept {
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
    if (!st.write_closed) {
        st.write_closed = true;
        if (_session != nullptr) {
            _session->shutdown_write(st.id);
        }
        if (_host != nullptr) {
            _host->reset_stream(st.id, code);
        }
    }
    // What the session was given stays (`inflight`) until the stream closes: the
    // transport may still hold it.
}

void connection::resume(stream& st) noexcept {
    if (st.deferred && _session != nullptr) {
        st.deferred = false;
        (void)_session->resume_stream(st.id);
    }
    if (_host != nullptr) {
        _host->want_write();
    }
}

void connection::on_app_message(http::app_response&& m, http::protocol_env& env) {
    if (m.parts == http::app_response::part_read_more || _session == nullptr || _failed) {
        if (m.stream && (_session == nullptr || _failed)) {
            m.stream->on_closed();
        }
        if (_session != nullptr && !_failed) {
            // The app took streamed body bytes: the client gets that much credit back.
            if (stream* sp = find(static_cast<int64_t>(m.seq)); sp != nullptr && sp->body_stream) {
                consume(*sp);
            }
        }
        return;
    }
    stream* sp = find(static_cast<int64_t>(m.seq));
    if (sp == nullptr || sp->ended || sp->write_closed) [[unlikely]] {
        if (m.stream) {
            m.stream->on_closed(); // the stream is gone (reset by the client, or answered)
        }
        return;
    }
    stream& st = *sp;
    http::protocol_env* saved = _env;
    _env = &env;
    bool has_body = (m.parts & http::app_response::part_body) != 0;
    bool end = (m.parts & http::app_response::part_end) != 0;
    bool abort = (m.parts & http::app_response::part_abort) != 0;
    if (m.parts & http::app_response::part_head) {
        if (st.started || m.upgrade || m.start.status < 200) [[unlikely]] {
            // A second head, a 101 (no upgrades inside HTTP/3) or an interim status as
            // the answer: the producer is broken.
            if (m.stream) {
                m.stream->on_closed();
            }
            abort_response(st, error::internal_error);
            _env = saved;
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
        start_response(st, h.status, fields, length, h.has_date, h.has_server, has_body || !end);
        if (st.write_closed) {
            _env = saved;
            return;
        }
    } else if (!st.started) [[unlikely]] {
        abort_response(st, error::internal_error); // body before head
        _env = saved;
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
        abort_response(st, error::internal_error); // the client can tell the response is incomplete
    } else if (end) {
        if (st.declared >= 0 && st.given != static_cast<uint64_t>(st.declared) && !st.no_body) [[unlikely]] {
            abort_response(st, error::internal_error); // fewer bytes than announced
        } else {
            st.ended = true;
            if (!m.trailers.empty() && !st.no_body) {
                // Queued behind the body: the session sends the DATA frames, then this
                // HEADERS frame, then the FIN (RFC 9114 §4.1).
                field_list list(m.trailers.size());
                list.add_lines(m.trailers);
                if (_session->submit_trailers(st.id, list.fields()) == 0) {
                    st.trailers = std::move(m.trailers);
                }
            }
            if (st.from_app) {
                st.from_app = false;
                --_app_streams;
            }
            if (st.watch) {
                st.watch->finish();
                st.watch.reset();
            }
            if (st.body_stream && !st.body_failed) {
                // Answered before its body ended: the rest is read and dropped (RFC 9114
                // §4.1 lets a server answer early); the app no longer reads it.
                st.body_failed = true;
                st.body_stream->fail(http::body_error::disconnect);
                consume(st);
            }
        }
    }
    resume(st);
    _env = saved;
}

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
        st.encoder.reset();
    }
    if (st.no_body || coded.empty()) {
        if (st.control && !in.empty()) {
            st.control->on_sent(in.size());
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

long connection::on_read_body(int64_t id, quic::out_piece* vec, size_t max, body_flags& flags) noexcept {
    stream* sp = find(id);
    if (sp == nullptr || sp->write_closed) {
        flags.eof = true;
        return 0;
    }
    stream& st = *sp;
    size_t count = 0;
    while (count < max && !st.pending.empty()) {
        stream::piece& p = st.pending.front();
        if (p.file) {
            // A file range: read a chunk into memory the session can point at (QUIC may
            // send it again). One chunk per call bounds what a large file holds unacked.
            if (count > 0) {
                break;
            }
            size_t take = static_cast<size_t>(std::min<uint64_t>(p.left, _cfg.file_chunk));
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
                return -1; // the file shrank under the response: the frame cannot be completed
            }
            stream::piece& q = st.inflight.emplace_back();
            q.bytes = std::move(buf);
            q.length = take;
            q.credit = st.control;
            p.offset += take;
            p.left -= take;
            st.pending_bytes -= take;
            st.inflight_bytes += take;
            vec[count++] = {reinterpret_cast<const uint8_t*>(q.bytes.data()), take};
            if (p.left == 0) {
                st.pending.pop_front();
            }
            break;
        }
        stream::piece& q = st.inflight.emplace_back(std::move(p));
        st.pending.pop_front();
        q.length = q.left;
        q.left = 0;
        if (!q.credit) {
            q.credit = st.control;
        }
        st.pending_bytes -= q.length;
        st.inflight_bytes += q.length;
        std::string_view d = q.data();
        vec[count++] = {reinterpret_cast<const uint8_t*>(d.data()), d.size()};
    }
    if (st.pending.empty()) {
        if (st.ended) {
            flags.eof = true;
            flags.trailers = !st.trailers.empty(); // the trailer section ends the stream
        } else if (count == 0) {
            st.deferred = true; // resumed when the producer gives more
            return session::would_block;
        }
    }
    return static_cast<long>(count);
}

int connection::on_body_acked(int64_t id, uint64_t n) noexcept {
    stream* sp = find(id);
    if (sp == nullptr) {
        return 0;
    }
    stream& st = *sp;
    while (n > 0 && !st.inflight.empty()) {
        stream::piece& p = st.inflight.front();
        uint64_t take = std::min(n, p.length - p.acked);
        p.acked += take;
        n -= take;
        st.inflight_bytes -= take;
        if (p.credit) {
            p.credit->on_sent(static_cast<size_t>(take)); // the producer may go on
        }
        if (p.acked == p.length) {
            st.inflight.pop_front();
        }
    }
    return 0;
}

} // namespace ringbolt::h3
