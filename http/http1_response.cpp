// HTTP/1.1 responses, in request order: native and app answers through the response
// framer (RFC 9112 §6-7), content coding, 101 switches, and the advance to the next owed
// response. The request side (framing, bodies, deadlines) is http1_connection.cpp.
#include "http/http1_connection.hpp"

#include "core/probes.hpp"
#include "http/problem.hpp"
#include "http/response_features.hpp"
#include "http/response_writer.hpp"

#include <cstring>

namespace ringbolt::http {

namespace {
// An app's owned body of at least this many bytes moves into the output queue instead of
// being copied there: a 1.1 MB JSON answer's copy, and the pages it faulted in, were
// about a tenth of its server CPU (perf, Litestar's benchmark's json-1m case). Smaller
// ones are copied, after the head in its segment when they fit there (one iovec).
constexpr size_t move_body_from = 64 * 1024;
} // namespace

uint64_t http1_connection::queued_bytes() const noexcept {
    uint64_t n = _out.bytes();
    for (const owed& o : _owed) {
        n += o.held ? o.held->bytes() : 0; // framed responses waiting behind an earlier one count too
    }
    return n;
}

http1_connection::owed* http1_connection::find_owed(uint64_t seq) noexcept {
    if (_owed.empty() || seq < _next_write) {
        return nullptr;
    }
    size_t i = static_cast<size_t>(seq - _next_write);
    return i < _owed.size() && _owed[i].seq == seq ? &_owed[i] : nullptr;
}

void http1_connection::start_response(owed& o, uint16_t status, std::string_view fields, int64_t length, bool app_close,
                                      bool has_date, bool has_server, protocol_env& env) {
    // During a drain the last response owed says close (earlier pipelined ones do not:
    // their followers still need the connection).
    bool drain_close = env.draining && o.seq + 1 == _next_seq;
    o.framer.start(queue_of(o), o.ctx, status, fields, length, app_close, env.date, drain_close, has_date, has_server,
                   env.fields);
    o.phase = response_phase::started;
    env.counters.count_status(status);
    if (o.framer.closes()) {
        _closing = true; // read nothing more; what is owed before this still goes out
    }
}

void http1_connection::respond(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                               std::string_view body, protocol_env& env) {
    // Compression (an app with enable_compression: every answer carries the features):
    // `fields` and `body` may then point into the thread's scratch, which the framing
    // below copies out of before it is released. A body under the minimum size is never
    // compressed (plan_compression), so it needs neither the plan nor the scratch.
    answer_scratch* scratch = nullptr;
    if (ctx.features != nullptr && ctx.features->compression.enabled &&
        body.size() >= ctx.features->compression.min_size) [[unlikely]] {
        scratch = &thread_answer_scratch();
        compress_answer(ctx, status, fields, body, scratch->fields, scratch->body);
    }
    if (_owed.empty() && seq == _next_write) [[likely]] {
        // Nothing owed before it: head and body framed straight into the output in one
        // write (the hot path; respond_native does the same in two).
        bool drain_close = env.draining && seq + 1 == _next_seq;
        response_framer f;
        f.whole(_out, ctx, status, fields, body, false, env.date, drain_close, false, false, env.fields);
        env.counters.count_status(status);
        ++_next_write;
        if (f.closes()) {
            _closing = true;
        }
    } else {
        respond_framed(seq, ctx, status, fields, body, env);
    }
    if (scratch != nullptr) [[unlikely]] {
        scratch->release();
    }
}

template <class Body>
void http1_connection::respond_native(uint64_t seq, const request_context& ctx, uint16_t status,
                                      std::string_view fields, int64_t length, protocol_env& env, Body&& body) {
    if (_owed.empty() && seq == _next_write) [[likely]] {
        // Nothing owed before it: frame straight into the output (the hot path).
        bool drain_close = env.draining && seq + 1 == _next_seq;
        response_framer f;
        f.start(_out, ctx, status, fields, length, false, env.date, drain_close, false, false, env.fields);
        body(f, _out);
        env.counters.count_status(status);
        ++_next_write;
        if (f.closes()) {
            _closing = true;
        }
        return;
    }
    owed* o = find_owed(seq);
    if (o == nullptr) {
        o = &_owed.emplace_back();
        o->seq = seq;
        o->ctx = ctx;
    }
    start_response(*o, status, fields, length, false, false, false, env);
    bool ok = body(o->framer, queue_of(*o));
    end_response(*o, ok);
}

void http1_connection::respond_framed(uint64_t seq, const request_context& ctx, uint16_t status,
                                      std::string_view fields, std::string_view body, protocol_env& env) {
    respond_native(seq, ctx, status, fields, static_cast<int64_t>(body.size()), env,
                   [body](response_framer& f, core::output_queue& q) {
                       f.body(q, body);
                       return true;
                   });
}

void http1_connection::respond_file(uint64_t seq, const request_context& ctx, uint16_t status, std::string_view fields,
                                    std::shared_ptr<core::file_handle> file, uint64_t offset, uint64_t length,
                                    protocol_env& env) {
    respond_native(seq, ctx, status, fields, static_cast<int64_t>(length), env,
                   [&file, offset, length](response_framer& f, core::output_queue& q) {
                       // A null file is only given for HEAD (no body framed); anything else
                       // cannot complete.
                       return file ? f.body_file(q, std::move(file), offset, length)
                                   : f.framing() == body_framing::none;
                   });
}

void http1_connection::on_app_message(app_response&& m, protocol_env& env) {
    if (m.parts == app_response::part_read_more) {
        // The app took body bytes: the first read answers Expect: 100-continue (RFC 9110
        // §10.1.1: only once it can go out in order); the caller resumes reading.
        if (_phase == phase::body_stream && m.seq == _stream_seq && _stream_continue && !_owed.empty() &&
            _owed.front().seq == m.seq && _owed.front().phase == response_phase::owed) {
            _out.append("HTTP/1.1 100 Continue\r\n\r\n");
            env.counters.responses_1xx.add();
            _stream_continue = false;
        }
        if (input_held() && _phase == phase::body_stream) {
            _body_started = env.now_s; // the minimum rate is measured from here again
            _body_received = 0;
        }
        return;
    }
    owed* o = find_owed(m.seq);
    if (o == nullptr || over(o->phase)) [[unlikely]] {
        if (m.stream) {
            m.stream->on_closed(); // nothing of this response can go out any more
        }
        return;
    }
    if (m.parts & app_response::part_head) {
        if (o->phase != response_phase::owed) [[unlikely]] {
            // A second start: a producer bug; the response is broken and its producer stops.
            if (m.stream) {
                m.stream->on_closed();
            }
            if (o->stream) {
                o->stream->on_closed();
            }
            end_response(*o, false);
            return;
        }
        if (_awaiting_upgrade && m.seq == _upgrade_seq) [[unlikely]] {
            _awaiting_upgrade = false; // answered: what follows is parsed again (as HTTP unless 101)
            if (m.has_upgrade()) {
                if (!switch_protocols(*o, m, env)) {
                    if (m.stream) {
                        m.stream->on_closed();
                    }
                    end_response(*o, false);
                }
                return;
            }
        }
        if (m.has_upgrade() || m.start.status < 200) [[unlikely]] {
            // A 101 for a request that did not ask to upgrade (or any other interim
            // status as a final answer): the producer is broken; the client gets a cut.
            if (m.stream) {
                m.stream->on_closed();
            }
            end_response(*o, false);
            return;
        }
        o->stream = std::move(m.stream);
        const response_head& h = m.start;
        std::string_view fields = h.fields.empty() ? h.static_fields : std::string_view(h.fields);
        bool one_message =
            m.parts == (app_response::part_head | app_response::part_body | app_response::part_end) && !m.has_file();
        std::string_view body = m.body_bytes();
        // Compression plans a whole answer by its declared length, else its size; under the
        // minimum size it is never compressed (plan_compression), so it takes the plain way.
        if (o->ctx.features != nullptr && o->ctx.features->compression.enabled &&
            !(one_message && (h.content_length >= 0 ? static_cast<uint64_t>(h.content_length) : body.size()) <
                                 o->ctx.features->compression.min_size)) [[unlikely]] {
            if (start_coded(*o, m, fields, env)) {
                return;
            }
        } else if (one_message && o->stream == nullptr && m.trailers().empty()) [[likely]] {
            // A whole answer in one message (a handler's return value): head and body in
            // one write, as respond() does.
            if (h.content_length == static_cast<int64_t>(body.size()) &&
                body.size() < core::output_queue::coalesce_below) {
                bool drain_close = env.draining && o->seq + 1 == _next_seq;
                o->framer.whole(queue_of(*o), o->ctx, h.status, fields, body, h.close, env.date, drain_close,
                                h.has_date, h.has_server, env.fields);
                o->phase = response_phase::started;
                env.counters.count_status(h.status);
                if (o->framer.closes()) {
                    _closing = true;
                }
                end_response(*o, true);
                if (_outstanding == 0 && _deadline == 0 && !_closing) {
                    set_read_deadline(true, env);
                }
                return;
            }
            start_response(*o, h.status, fields, h.content_length, h.close, h.has_date, h.has_server, env);
        } else {
            start_response(*o, h.status, fields, h.content_length, h.close, h.has_date, h.has_server, env);
        }
    } else if (o->phase == response_phase::owed) [[unlikely]] {
        end_response(*o, false); // body before head
        return;
    }
    bool ok = true;
    if (o->encoder) [[unlikely]] {
        // A compressed stream: every piece is encoded and flushed; the end closes the
        // coded stream (its trailer is the last piece). A file cannot be compressed here.
        bool finish = (m.parts & app_response::part_end) && !(m.parts & app_response::part_abort);
        if ((m.parts & app_response::part_body) && m.has_file()) {
            ok = false;
        } else if ((m.parts & app_response::part_body) || finish) {
            std::string_view piece = m.body_bytes();
            if (!(m.parts & app_response::part_body)) {
                piece = {};
            }
            ok = body_coded(*o, piece, finish);
        }
    } else if (m.parts & app_response::part_body) {
        core::output_queue& q = queue_of(*o);
        if (m.has_file()) {
            app_response_more& more = *m.more;
            ok = o->framer.body_file(q, std::move(more.file), more.file_offset, more.file_length, o->stream);
        } else if (!m.borrowed().empty()) {
            ok = o->framer.body_borrowed(q, m.more->borrowed, std::move(m.more->keep), o->stream);
        } else if (o->stream || m.body.size() >= move_body_from) {
            ok = o->framer.body_owned(q, std::move(m.body), o->stream);
        } else {
            ok = o->framer.body(q, m.body);
        }
    }
    if (!ok || (m.parts & app_response::part_abort)) [[unlikely]] {
        if (!ok && o->stream) {
            o->stream->on_closed(); // the body was refused: stop producing what cannot be sent
        }
        end_response(*o, false);
        return;
    }
    if (m.parts & app_response::part_end) {
        end_response(*o, o->framer.end(queue_of(*o), m.trailers()));
        // The application's last answer hands the connection back to the client: its
        // clock runs again (set_idle_deadline gave none while the app had requests).
        if (_outstanding == 0 && _deadline == 0 && !_closing) {
            set_read_deadline(true, env);
        }
    }
}

bool http1_connection::start_coded(owed& o, app_response& m, std::string_view fields, protocol_env& env) {
    const response_head& h = m.start;
    bool has_body = (m.parts & app_response::part_body) != 0;
    bool whole =
        has_body && (m.parts & app_response::part_end) && !(m.parts & app_response::part_abort) && !m.has_file();
    std::string_view body = m.body_bytes();
    answer_scratch& scratch = thread_answer_scratch();
    std::string& coded = scratch.body;
    std::string_view all = fields;
    compression_plan p = compress_head(o.ctx, h.status, h.content_length, whole, has_body && m.has_file(), body, all,
                                       scratch.fields, coded, o.encoder);
    if (p.coding == content_coding::identity) {
        start_response(o, h.status, all, h.content_length, h.close, h.has_date, h.has_server, env);
        scratch.release();
        return false;
    }
    if (!whole) {
        start_response(o, h.status, all, -1, h.close, h.has_date, h.has_server, env); // chunked (or close)
        scratch.release();
        return false;
    }
    start_response(o, h.status, all, static_cast<int64_t>(coded.size()), h.close, h.has_date, h.has_server, env);
    if (o.stream) {
        o.stream->on_sent(body.size()); // the producer's bytes are consumed here
    }
    o.framer.body(queue_of(o), coded); // copied: the scratch is reused by the next response
    scratch.release();
    end_response(o, o.framer.end(queue_of(o), m.trailers()));
    if (_outstanding == 0 && _deadline == 0 && !_closing) {
        set_read_deadline(true, env);
    }
    return true;
}

bool http1_connection::body_coded(owed& o, std::string_view piece, bool finish) {
    std::string coded;
    if (!o.encoder->write(piece, finish, coded)) {
        return false;
    }
    if (finish) {
        o.encoder.reset(); // its memory goes with the stream's end
    }
    if (o.stream && !piece.empty()) {
        auto credit = std::make_shared<coded_credit>(o.stream, piece.size(), coded.size());
        return o.framer.body_owned(queue_of(o), std::move(coded), std::move(credit));
    }
    return o.framer.body_owned(queue_of(o), std::move(coded));
}

bool http1_connection::switch_protocols(owed& o, app_response& m, protocol_env& env) {
    // Only the oldest owed response can switch (nothing may be pipelined before it) and
    // not while the connection closes (a drain, or Connection: close on the request).
    if (&o != &_owed.front() || o.phase != response_phase::owed || _closing || _phase != phase::head ||
        m.start.status != 101) {
        return false;
    }
    std::unique_ptr<protocol> next = m.more->upgrade->make(_slot, _gen, _peer, _tail, env);
    if (!next) {
        return false;
    }
    // RFC 9110 §15.2.2: the 101 carries no body and no framing (the framer writes none for
    // a 1xx); the new protocol begins right after its empty line.
    response_framer head;
    head.start(_out, o.ctx, 101, m.start.fields, -1, false, env.date, false, false, false, env.fields);
    env.counters.count_status(101);
    next->output().splice(_out);
    if (o.watch) {
        o.watch->finish(); // answered (the new protocol reports the client leaving its own way)
        o.watch.reset();
    }
    _owed.clear();
    _outstanding = 0;
    _tail.clear();
    _phase = phase::closed;
    _closing = true;
    _deadline = 0;
    _successor = std::move(next);
    return true;
}

void http1_connection::end_response(owed& o, bool ok) {
    o.phase = ok ? response_phase::ended : response_phase::failed;
    if (o.watch) {
        o.watch->finish(); // answered: the client did not leave first
        o.watch.reset();
    }
    if (_phase == phase::body_stream && o.seq == _stream_seq && o.from_app) {
        // Answered before its whole body arrived: the rest is not read (RFC 9112 §9.6
        // allows closing); the response says nothing of it, so close after it.
        if (_stream) {
            _stream->fail(body_error::disconnect);
            _stream.reset();
        }
        _phase = phase::head;
        _closing = true;
        _close_after_body = false;
        _tail.clear();
    }
    if (o.from_app && _outstanding > 0) {
        --_outstanding;
    }
    if (!ok) {
        _closing = true; // the client can tell the response is incomplete only by the close
    }
    if (&o == &_owed.front()) {
        advance();
    }
}

void http1_connection::advance() {
    while (!_owed.empty() && over(_owed.front().phase)) {
        owed& front = _owed.front();
        bool stop = front.phase == response_phase::failed || front.framer.closes();
        _owed.erase(_owed.begin());
        ++_next_write;
        if (stop) {
            // Nothing after a closing or broken response goes out: later producers stop.
            _closing = true;
            tell_watchers(); // their answers can never go out: for the app, the client is gone
            for (owed& o : _owed) {
                if (o.stream && !over(o.phase)) {
                    o.stream->on_closed();
                }
                if (o.from_app && !over(o.phase) && _outstanding > 0) {
                    --_outstanding;
                }
            }
            _owed.clear();
            return;
        }
        if (!_owed.empty() && _owed.front().held) {
            _out.splice(*_owed.front().held);
        }
    }
}

} // namespace ringbolt::http
