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

// The list's pairs as the session takes them (views into the list's store), in the
// thread's scratch vector: nghttp3 copies them when the frame is submitted.
std::vector<field>& pairs(const http::header_list& list) {
    thread_local std::vector<field> out;
    out.clear();
    for (size_t i = 0; i < list.size(); ++i) {
        out.push_back({list.name(i), list.value(i)});
    }
    return out;
}

} // namespace

void connection::start_response(stream& st, const http::response_start& h) {
    thread_local http::header_list list; // cleared for each answer, its room kept
    list.clear();
    st.start(list, h.status, h.fields, h.length, h.has_date, h.has_server, &env());
    bool with_body = h.body_follows && !st.no_body;
    if (!with_body) {
        st.no_body = true;
    }
    if (int rv = _session->submit_response(st.id, pairs(list), with_body); rv != 0) [[unlikely]] {
        abort_response(st, error::internal_error);
        return;
    }
    if (_host != nullptr) {
        _host->want_write();
    }
}

void connection::respond_native(http::native_answer&& a, http::protocol_env& env) {
    stream* st = find(static_cast<int64_t>(a.seq));
    if (st == nullptr || st->phase != http::response_phase::owed || st->write_closed || _session == nullptr ||
        _failed) {
        return;
    }
    http::protocol_env* saved = _env;
    _env = &env;
    st->answer_native(a, [this, st](const http::response_start& h) { start_response(*st, h); });
    _env = saved;
}

void connection::abort_response(stream& st, uint64_t code) noexcept {
    st.stop();
    if (st.settle_app()) {
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
            } else if (sp != nullptr && sp->hosted() != nullptr && !sp->write_closed) {
                // A WebSocket's app took messages: what was held back is parsed, and credited.
                http::protocol_env* saved = _env;
                _env = &env;
                tunnel_pump(*sp);
                _env = saved;
            }
        }
        return;
    }
    constexpr uint8_t answers =
        http::app_response::part_head | http::app_response::part_end | http::app_response::part_abort;
    stream* sp = find(static_cast<int64_t>(m.seq));
    if (sp == nullptr || http::over(sp->phase) || sp->write_closed) [[unlikely]] {
        if (m.stream) {
            m.stream->on_closed(); // the stream is gone (reset by the client, or answered)
        }
        if (sp != nullptr && (m.parts & answers)) {
            sp->app_working = false;
        } else if (sp == nullptr && (m.parts & answers)) {
            work_done(static_cast<int64_t>(m.seq)); // the handler of a closed stream is done
        }
        return;
    }
    stream& st = *sp;
    if (m.parts & answers) {
        st.app_working = false;
    }
    http::protocol_env* saved = _env;
    _env = &env;
    if (st.tunnel && tunnel_message(st, m)) [[unlikely]] {
        _env = saved; // a WebSocket's handshake answer, or its messages
        return;
    }
    http::message_outcome out = st.on_message(m, [this, &st](const http::response_start& h) {
        start_response(st, h);
        return !st.write_closed;
    });
    if (out == http::message_outcome::refused || out == http::message_outcome::gone) [[unlikely]] {
        if (out == http::message_outcome::refused) {
            abort_response(st, error::internal_error);
        }
        _env = saved;
        return;
    }
    if (out == http::message_outcome::broken) [[unlikely]] {
        abort_response(st, error::internal_error); // the client can tell the response is incomplete
    } else if (out == http::message_outcome::ended) {
        // Trailers are queued behind the body: the session sends the DATA frames, then
        // this HEADERS frame, then the FIN (RFC 9114 §4.1).
        if (!st.trailers.empty()) {
            http::header_list list;
            list.reserve(st.trailers.size());
            list.add_lines(st.trailers);
            if (st.no_body || _session->submit_trailers(st.id, pairs(list)) != 0) {
                st.trailers.clear();
            }
        }
        if (st.settle_app()) {
            --_app_streams;
        }
        if (st.drop_body()) {
            consume(st); // its credit goes back: the rest of the body is read and dropped
        }
    }
    resume(st);
    _env = saved;
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
        http::stream_piece& p = st.pending.front();
        if (p.file) {
            // A file range: read a chunk into memory the session can point at (QUIC may
            // send it again). One chunk per call bounds what a large file holds unacked.
            if (count > 0) {
                break;
            }
            size_t take = static_cast<size_t>(std::min<uint64_t>(p.left, _cfg.file_chunk));
            std::string buf;
            if (!http::read_file_piece(p, take, buf)) {
                return -1; // the file shrank under the response: the frame cannot be completed
            }
            http::stream_piece& q = st.inflight.emplace_back();
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
        http::stream_piece& q = st.inflight.emplace_back(std::move(p));
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
        if (http::over(st.phase)) {
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
        http::stream_piece& p = st.inflight.front();
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
