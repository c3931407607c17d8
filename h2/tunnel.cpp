// WebSocket over HTTP/2 (RFC 8441): an extended CONNECT whose :protocol is websocket goes
// to the dispatcher as HTTP/1.1's Upgrade does; the app's 101 becomes the stream's 200,
// and the stream then hosts the WebSocket session (ws/session.hpp, made by the upgrade
// as an http::stream_upgrade): its DATA in, the session's frames out as DATA, END_STREAM
// and RST_STREAM as the ends of the WebSocket. The stream keeps every rule of any other
// stream: its windows, its send clock, resets and the abuse budgets.
#include "h2/stream.hpp"

#include "core/clock.hpp"
#include "core/strings.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>

namespace ringbolt::h2 {

namespace {

constexpr std::string_view text_plain = "Content-Type: text/plain; charset=utf-8\r\n";

} // namespace

void connection::begin_tunnel(stream& st) {
    // RFC 9113 §8.5: a plain CONNECT asks for a TCP tunnel: none here. RFC 8441 §4: an
    // extended one names its protocol; WebSocket is the one served, and only when the
    // SETTINGS offered it (nghttp2 refuses :protocol otherwise).
    if (st.protocol.empty() || !_cfg.websocket || !core::iequals(st.protocol, "websocket")) {
        st.reported = true;
        st.ctx = http::request_context{};
        if (_env != nullptr) {
            std::string_view why =
                st.protocol.empty() ? "CONNECT is not supported" : "the :protocol of this CONNECT is not supported";
            respond(static_cast<uint64_t>(st.id), st.ctx, 501, text_plain, why, *_env);
        }
        return;
    }
    // The handshake is a GET to the dispatcher (RFC 8441 §5: the :path is the WebSocket's
    // URI); the WebSocket watches its own liveness (pings), not the request body's clock.
    st.method = "GET";
    st.tunnel = tunnel_phase::awaiting;
    st.clock.body_ends();
    dispatch(st);
    if (st.tunnel == tunnel_phase::awaiting && !st.from_app) {
        st.tunnel = tunnel_phase::none; // answered natively (a refusal): an ordinary stream from now
        consume(st);
    }
}

void connection::open_tunnel(stream& st, http::app_response& m) {
    auto* to_stream = dynamic_cast<http::stream_upgrade*>(m.more->upgrade.get());
    auto out = std::make_unique<stream_output>(st);
    std::unique_ptr<http::hosted_session> session =
        to_stream != nullptr ? to_stream->make_hosted(*out, _now_s, _env->counters) : nullptr;
    if (!session) {
        if (m.stream) {
            m.stream->on_closed(); // the app hears the switch failed
        }
        reset_stream(st, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    st.hosted_out = std::move(out);
    st.hosted = std::move(session);
    st.tunnel = tunnel_phase::hosting;
    // RFC 8441 §5: 200 where HTTP/1.1 has 101; DATA follows for as long as the WebSocket
    // lives (no content-length). Upgrade and Connection are connection-specific fields
    // (left out of every HTTP/2 head).
    const http::response_head& h = m.start;
    http::response_start start;
    start.status = 200;
    start.fields = h.fields.empty() ? h.static_fields : std::string_view(h.fields);
    start.has_date = h.has_date;
    start.has_server = h.has_server;
    start.body_follows = true;
    start_response(st, start);
    // What came before the accept, then the client's end if it came too.
    if (!st.body.empty()) {
        std::string early;
        early.swap(st.body);
        st.hosted->on_data(early, _now_s);
    }
    if (st.request_ended) {
        st.hosted->on_peer_end("the client ended the stream without a close frame");
    }
    tunnel_moved(st);
}

void connection::on_tunnel_message(stream& st, http::app_response&& m) {
    if (st.tunnel == tunnel_phase::hosting) {
        st.hosted->on_app_message(std::move(m), _now_s);
        tunnel_moved(st);
        return;
    }
    if (m.has_upgrade() && m.start.status == 101 && st.phase == http::response_phase::owed) {
        open_tunnel(st, m);
        return;
    }
    // Refused (the app answered without accepting: 403, an ASGI denial): an ordinary
    // answer on the stream, whose DATA is read and dropped from now.
    st.tunnel = tunnel_phase::none;
    st.body.clear();
    consume(st);
    if (m.has_upgrade() || m.start.status < 200 ||
        ((m.parts & http::app_response::part_head) && m.start.status < 300)) {
        // A 2xx to an extended CONNECT opens the tunnel (RFC 8441 §5): only an accepted
        // WebSocket may answer it. A route that does not take WebSockets answered: refuse.
        if (m.stream) {
            m.stream->on_closed();
        }
        if (st.settle_app()) {
            --_app_streams;
        }
        reset_stream(st, NGHTTP2_CANCEL);
        return;
    }
    http::message_outcome out = st.on_message(m, [this, &st](const http::response_start& h) {
        start_response(st, h);
        return true;
    });
    if (out == http::message_outcome::refused || out == http::message_outcome::broken) [[unlikely]] {
        reset_stream(st, NGHTTP2_INTERNAL_ERROR);
    } else if (out == http::message_outcome::ended && st.settle_app()) {
        --_app_streams;
    }
    resume(st);
}

void connection::tunnel_moved(stream& st) {
    consume(st);
    if (st.hosted->done() && !http::over(st.phase)) {
        // The close handshake is over (or the WebSocket failed): the close frame, queued
        // last, is followed by END_STREAM; the client's END_STREAM (or a reset) ends the
        // stream.
        st.phase = http::response_phase::ended;
        if (st.settle_app()) {
            --_app_streams;
        }
        // A client that keeps its side open after that is reset (expire_streams), or it
        // would hold the stream for as long as it likes.
        st.linger_until = _now_s + std::max<uint32_t>(_limits.keep_alive_timeout_s, 1);
    }
    resume(st);
}

bool connection::expire_tunnel(stream& st) {
    if (st.hosted->deadline() != 0 && core::deadline_passed(_now_s, st.hosted->deadline())) {
        st.hosted->on_timeout(_now_s); // a ping, a ping timeout, the close timeout
        tunnel_moved(st);
    }
    if (st.linger_until == 0 || st.request_ended || !core::deadline_passed(_now_s, st.linger_until)) {
        return false;
    }
    if (st.pending_bytes > 0) {
        // The close frame still waits for the client's window: the send clock watches that.
        st.linger_until = _now_s + std::max<uint32_t>(_limits.keep_alive_timeout_s, 1);
        return false;
    }
    // RFC 9113 §8.1: the answer is whole; RST_STREAM NO_ERROR tells the client to stop.
    st.linger_until = 0;
    reset_stream(st, NGHTTP2_NO_ERROR);
    return true;
}

} // namespace ringbolt::h2
