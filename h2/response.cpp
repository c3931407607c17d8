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

connection& reading_connection(void* user_data) noexcept {
    return *static_cast<connection*>(user_data);
}

// The thread's header list, cleared for each answer and its room kept (no allocation once
// warm): nghttp2 copies the pairs when the frame is submitted.
http::header_list& scratch_list() {
    thread_local http::header_list list;
    list.clear();
    return list;
}

// The list's pairs as nghttp2 takes them (pointing into the list's store), in the thread's
// scratch vector: nghttp2 copies them when a frame is submitted, so one serves every answer.
std::vector<nghttp2_nv>& pairs(const http::header_list& list) {
    thread_local std::vector<nghttp2_nv> nva;
    nva.clear();
    for (size_t i = 0; i < list.size(); ++i) {
        std::string_view name = list.name(i);
        std::string_view value = list.value(i);
        nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                       reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                       NGHTTP2_NV_FLAG_NONE});
    }
    return nva;
}

ssize_t cb_read(nghttp2_session*, int32_t stream_id, uint8_t*, size_t length, uint32_t* data_flags,
                nghttp2_data_source*, void* user) {
    return reading_connection(user).read_body(stream_id, length, data_flags);
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

void connection::start_response(stream& st, const http::response_start& h) {
    http::header_list& list = scratch_list();
    st.start(list, h.status, h.fields, h.length, h.has_date, h.has_server, _env);
    std::vector<nghttp2_nv>& nva = pairs(list);
    if (h.body_follows && !st.no_body) {
        nghttp2_data_provider prd;
        prd.source.ptr = nullptr;
        prd.read_callback = cb_read;
        nghttp2_submit_response(_session, st.id, nva.data(), nva.size(), &prd);
    } else {
        st.no_body = true;
        nghttp2_submit_response(_session, st.id, nva.data(), nva.size(), nullptr);
    }
}

void connection::respond_native(http::native_answer&& a, http::protocol_env& env) {
    stream* st = find(a.seq);
    if (st == nullptr || st->phase != http::response_phase::owed || _session == nullptr) {
        return;
    }
    http::protocol_env* saved = _env;
    _env = &env;
    st->answer_native(a, [this, st](const http::response_start& h) { start_response(*st, h); });
    if (saved == nullptr) {
        flush(); // outside a receive (an app message path): send now
    }
    _env = saved;
    update_deadline();
}

void connection::reset_stream(stream& st, uint32_t error_code) {
    st.stop();
    if (st.settle_app()) {
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
            } else if (sp != nullptr && sp->hosted() != nullptr) {
                // A WebSocket's app took messages: what was held back is parsed, and credited.
                _env = &env;
                _now_s = env.now_s;
                tunnel_pump(*sp);
                flush();
                _env = nullptr;
                update_deadline();
            }
        }
        return;
    }
    stream* sp = find(m.seq);
    if (sp == nullptr || http::over(sp->phase)) [[unlikely]] {
        if (m.stream) {
            m.stream->on_closed(); // the stream is gone (reset by the client, or answered)
        }
        return;
    }
    stream& st = *sp;
    _env = &env;
    _now_s = env.now_s;
    _output_limit = env.output_limit;
    if (st.tunnel && tunnel_message(st, m)) [[unlikely]] {
        flush(); // a WebSocket's handshake answer, or its messages
        _env = nullptr;
        update_deadline();
        return;
    }
    http::message_outcome out = st.on_message(m, [this, &st](const http::response_start& h) {
        start_response(st, h);
        return true;
    });
    if (out == http::message_outcome::refused) [[unlikely]] {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR);
        flush();
        _env = nullptr;
        return;
    }
    if (out == http::message_outcome::broken) [[unlikely]] {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR); // the client can tell the response is incomplete
    } else if (out == http::message_outcome::ended) {
        if (st.settle_app()) {
            --_app_streams;
        }
        if (st.drop_body()) {
            consume(st); // its window goes back: the rest of the body is read and dropped
        }
    }
    resume(st);
    flush();
    _env = nullptr;
    update_deadline();
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
        if (!http::over(st->phase)) {
            st->deferred = true; // resumed when the producer gives more
            return NGHTTP2_ERR_DEFERRED;
        }
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!st->trailers.empty()) {
            http::header_list list;
            list.reserve(st->trailers.size());
            list.add_lines(st->trailers);
            std::vector<nghttp2_nv> nva = pairs(list);
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
    if (http::over(st->phase) && n == st->pending_bytes && st->trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<long>(n);
}

int connection::send_data(int32_t id, const uint8_t* framehd, size_t length) {
    stream* st = find(static_cast<uint64_t>(id));
    if (st == nullptr || st->pending_bytes < length) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    st->clock.send_moves(_now_s, false); // the response moved: update_deadline looks again
    _data_moved = _now_s;
    if (_out.bytes() + length >= _output_limit) {
        // This frame fills the queue: its header tells us when the queue has drained to it.
        _out.append_credited({reinterpret_cast<const char*>(framehd), 9}, _hook);
        _hook_armed = true;
    } else {
        _out.append({reinterpret_cast<const char*>(framehd), 9});
    }
    size_t left = length;
    while (left > 0) {
        http::stream_piece& p = st->pending.front();
        size_t take = static_cast<size_t>(std::min<uint64_t>(left, p.left));
        if (p.file) {
            std::string buf;
            if (!http::read_file_piece(p, take, buf)) {
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
        } else if (!p.credit && !st->control && (p.keep || p.bytes.size() >= core::output_queue::coalesce_below)) {
            // Bytes the queue can hold without a copy (a native answer's body, an app's
            // borrowed bytes): the stream's own buffer is moved to the queue when one frame
            // takes it whole, else shared, each frame a view of it (no copy per frame).
            if (!p.bytes.empty() && take == p.left && p.offset == 0) {
                _out.append_owned(std::move(p.bytes));
                p.bytes.clear();
            } else {
                if (!p.bytes.empty()) {
                    auto keep = std::make_shared<const std::string>(std::move(p.bytes));
                    p.bytes.clear();
                    p.view = *keep;
                    p.keep = std::move(keep);
                }
                _out.append_borrowed(p.view.substr(static_cast<size_t>(p.offset), take), p.keep);
            }
            p.offset += take;
        } else {
            std::string_view part = p.data().substr(static_cast<size_t>(p.offset), take);
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
