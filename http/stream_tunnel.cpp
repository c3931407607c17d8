// The rules of an extended CONNECT's stream (RFC 8441 on HTTP/2, RFC 9220 on HTTP/3),
// once for both: a :protocol websocket goes to the dispatcher as HTTP/1.1's Upgrade does;
// the app's 101 becomes the stream's 200, and the stream then hosts the WebSocket session
// (ws/session.hpp, made by the upgrade as an http::stream_upgrade): its DATA in, the
// session's frames out as DATA, the stream's end and reset as the ends of the WebSocket.
// Each protocol frames, resets and credits through the hooks (stream_protocol).
#include "core/clock.hpp"
#include "core/strings.hpp"
#include "http/stream_exchange.hpp"

#include <algorithm>

namespace ringbolt::http {

void exchange_output::append(std::string_view bytes, const std::shared_ptr<core::send_credit>& credit) {
    if (bytes.empty()) {
        return;
    }
    stream_piece& p = _st.pending.emplace_back();
    p.bytes.assign(bytes);
    p.left = bytes.size();
    p.credit = credit;
    _st.pending_bytes += p.left;
}

void exchange_output::append_owned(std::string&& bytes, std::shared_ptr<core::send_credit> credit) {
    if (bytes.empty()) {
        return;
    }
    stream_piece& p = _st.pending.emplace_back();
    p.left = bytes.size();
    p.bytes = std::move(bytes);
    p.credit = std::move(credit);
    _st.pending_bytes += p.left;
}

void exchange_output::append_borrowed(std::string_view bytes, std::shared_ptr<const void> keep,
                                      std::shared_ptr<core::send_credit> credit) {
    if (bytes.empty()) {
        return;
    }
    stream_piece& p = _st.pending.emplace_back();
    p.view = bytes;
    p.keep = std::move(keep);
    p.left = bytes.size();
    p.credit = std::move(credit);
    _st.pending_bytes += p.left;
}

void stream_protocol::begin_tunnel(stream_exchange& st, bool websocket) {
    if (!st.tunnel || !websocket || !core::iequals(st.tunnel->protocol, "websocket")) {
        std::string_view why =
            st.tunnel ? "the :protocol of this CONNECT is not supported" : "CONNECT is not supported";
        st.tunnel.reset();
        tunnel_refuse(st, 501, why);
        return;
    }
    // The WebSocket watches its own liveness (pings), not the request body's clock.
    st.clock.body_ends();
    st.method = "GET";
    tunnel_dispatch(st);
    if (st.tunnel && st.tunnel->phase == tunnel_phase::awaiting && !st.from_app) {
        st.tunnel.reset(); // answered natively (a refusal): an ordinary stream from now
        tunnel_consume(st);
    }
}

void stream_protocol::open_tunnel(stream_exchange& st, app_response& m) {
    stream_tunnel& t = *st.tunnel;
    auto* to_stream = dynamic_cast<stream_upgrade*>(m.more->upgrade.get());
    auto out = std::make_unique<exchange_output>(st);
    std::unique_ptr<hosted_session> session =
        to_stream != nullptr ? to_stream->make_hosted(*out, tunnel_now(), tunnel_counters()) : nullptr;
    if (!session) {
        if (m.stream) {
            m.stream->on_closed(); // the app hears the switch failed
        }
        tunnel_reset(st, tunnel_end::failed);
        return;
    }
    t.out = std::move(out);
    t.session = std::move(session);
    t.phase = tunnel_phase::hosting;
    // 200 where HTTP/1.1 has 101; DATA follows for as long as the WebSocket lives (no
    // content-length). Upgrade and Connection are connection-specific fields (left out of
    // every HTTP/2 and HTTP/3 head).
    const response_head& h = m.start;
    response_start start;
    start.status = 200;
    start.fields = h.fields.empty() ? h.static_fields : std::string_view(h.fields);
    start.has_date = h.has_date;
    start.has_server = h.has_server;
    start.body_follows = true;
    if (!tunnel_submit_head(st, start)) {
        return;
    }
    // What came before the accept, then the client's end if it came too.
    if (!st.body.empty()) {
        std::string early;
        early.swap(st.body);
        t.session->on_data(early, tunnel_now());
    }
    if (st.request_ended) {
        t.session->on_peer_end("the client ended the stream without a close frame");
    }
    tunnel_moved(st);
}

bool stream_protocol::tunnel_message(stream_exchange& st, app_response& m) {
    if (st.tunnel->phase == tunnel_phase::hosting) {
        st.tunnel->session->on_app_message(std::move(m), tunnel_now());
        tunnel_moved(st);
        return true;
    }
    if (m.has_upgrade() && m.start.status == 101 && st.phase == response_phase::owed) {
        open_tunnel(st, m);
        return true;
    }
    // Refused (the app answered without accepting): an ordinary answer on the stream, whose
    // DATA is read and dropped from now.
    st.tunnel.reset();
    st.body.clear();
    tunnel_consume(st);
    if (m.has_upgrade() || m.start.status < 200 || ((m.parts & app_response::part_head) && m.start.status < 300)) {
        // A 2xx to an extended CONNECT opens the tunnel: only an accepted WebSocket may
        // answer it. A route that does not take WebSockets answered: refuse.
        if (m.stream) {
            m.stream->on_closed();
        }
        tunnel_reset(st, tunnel_end::refused);
        return true;
    }
    return false;
}

void stream_protocol::tunnel_data(stream_exchange& st, std::string_view data) {
    if (hosted_session* s = st.hosted(); s != nullptr) {
        s->on_data(data, tunnel_now());
        tunnel_moved(st);
    } else {
        st.body.append(data);
    }
}

void stream_protocol::tunnel_peer_end(stream_exchange& st) {
    // Waiting for the app, the session hears it once the app accepts (open_tunnel).
    if (hosted_session* s = st.hosted(); s != nullptr) {
        s->on_peer_end("the client ended the stream without a close frame");
        tunnel_moved(st);
    }
}

void stream_protocol::tunnel_pump(stream_exchange& st) {
    st.hosted()->pump();
    tunnel_moved(st);
}

void stream_protocol::tunnel_drain(stream_exchange& st) {
    if (hosted_session* s = st.hosted(); s != nullptr) {
        s->begin_drain(tunnel_now());
        tunnel_moved(st);
    }
}

void stream_protocol::tunnel_moved(stream_exchange& st) {
    tunnel_consume(st);
    if (st.hosted()->done() && !over(st.phase)) {
        // The close handshake is over (or the WebSocket failed): the close frame, queued
        // last, is followed by the stream's end; the client's end (or a reset) ends the
        // stream.
        st.phase = response_phase::ended;
        if (st.settle_app()) {
            --_app_streams;
        }
        // A client that keeps its side open after that is told to stop (expire_tunnel),
        // or it would hold the stream for as long as it likes.
        st.tunnel->linger_until = tunnel_now() + std::max<uint32_t>(_limits.keep_alive_timeout_s, 1);
    }
    tunnel_send(st);
}

bool stream_protocol::expire_tunnel(stream_exchange& st) {
    stream_tunnel& t = *st.tunnel;
    uint32_t now = tunnel_now();
    if (t.session->deadline() != 0 && core::deadline_passed(now, t.session->deadline())) {
        t.session->on_timeout(now); // a ping, a ping timeout, the close timeout
        tunnel_moved(st);
    }
    if (t.linger_until == 0 || st.request_ended || !core::deadline_passed(now, t.linger_until)) {
        return false;
    }
    if (st.pending_bytes > 0) {
        // The close frame still waits for the client's window: the send clock watches that.
        t.linger_until = now + std::max<uint32_t>(_limits.keep_alive_timeout_s, 1);
        return false;
    }
    // The answer is whole (RFC 9113 §8.1, RFC 9114 §4.1): the client is told to stop.
    t.linger_until = 0;
    tunnel_reset(st, tunnel_end::lingered);
    return true;
}

uint32_t stream_protocol::tunnel_deadline(const stream_exchange& st) noexcept {
    uint32_t at = 0;
    if (hosted_session* s = st.hosted(); s != nullptr) {
        at = s->deadline();
    }
    uint32_t linger = st.tunnel && !st.request_ended ? st.tunnel->linger_until : 0;
    if (linger != 0 && (at == 0 || linger < at)) {
        at = linger;
    }
    return at;
}

uint64_t stream_protocol::tunnel_credit(const stream_exchange& st) noexcept {
    if (hosted_session* s = st.hosted(); s != nullptr) {
        return st.received - s->buffered();
    }
    return st.received - st.body.size();
}

} // namespace ringbolt::http
