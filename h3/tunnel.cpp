// WebSocket over HTTP/3 (RFC 9220): what HTTP/3 does for the rules of an extended
// CONNECT's stream (http/stream_tunnel.cpp): the handshake reported as a GET, the 200
// submitted as any head, the ends as QUIC stream resets (or STOP_SENDING once our side is
// whole), the session's input credited to the stream's flow control as it is parsed, its
// frames sent as DATA and held until acknowledged like any body.
#include "h3/stream.hpp"

namespace ringbolt::h3 {

void connection::tunnel_dispatch(http::stream_exchange& st) {
    dispatch(static_cast<stream&>(st));
}

void connection::tunnel_refuse(http::stream_exchange& st, uint16_t status, std::string_view why) {
    answer_error(static_cast<stream&>(st), status, why);
}

bool connection::tunnel_submit_head(http::stream_exchange& st, const http::response_start& h) {
    auto& s = static_cast<stream&>(st);
    start_response(s, h);
    if (_session != nullptr) {
        // A tunnel's stream never ends on its own: scheduled one after the other (the
        // default), the busiest WebSocket would hold back every other stream of its
        // urgency, requests included. Its frames take turns with theirs.
        (void)_session->make_incremental(s.id);
    }
    // The session lives as long as the stream: a reset stream's app hears it through the
    // session (release), so the handler is not held against the stream cap.
    s.app_working = false;
    return !s.write_closed;
}

void connection::tunnel_reset(http::stream_exchange& st, http::tunnel_end how) {
    auto& s = static_cast<stream&>(st);
    if (how == http::tunnel_end::lingered) {
        // Our side ended with the close frame and its FIN (RFC 9114 §4.1): the client is
        // asked to stop sending (STOP_SENDING H3_NO_ERROR), as any server that answered a
        // request whose body goes on; what we sent stays, to be acknowledged.
        s.refused = true;
        s.request_ended = true;
        if (_host != nullptr) {
            _host->stop_sending(s.id, error::no_error);
        }
        if (_session != nullptr) {
            (void)_session->shutdown_read(s.id);
        }
        consume(s);
        return;
    }
    abort_response(s, how == http::tunnel_end::refused ? error::request_cancelled : error::internal_error);
}

void connection::tunnel_consume(http::stream_exchange& st) {
    consume(static_cast<stream&>(st));
}

void connection::tunnel_send(http::stream_exchange& st) {
    resume(static_cast<stream&>(st));
}

} // namespace ringbolt::h3
