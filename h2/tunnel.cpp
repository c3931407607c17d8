// WebSocket over HTTP/2 (RFC 8441): what HTTP/2 does for the rules of an extended
// CONNECT's stream (http/stream_tunnel.cpp): the handshake reported as a GET, the 200
// submitted as any head, the ends as RST_STREAM codes, the session's input credited to
// the stream's window as it is parsed, its frames sent as DATA.
#include "h2/stream.hpp"

#include <nghttp2/nghttp2.h>

namespace ringbolt::h2 {

void connection::tunnel_dispatch(http::stream_exchange& st) {
    dispatch(static_cast<stream&>(st));
}

void connection::tunnel_refuse(http::stream_exchange& st, uint16_t status, std::string_view why) {
    answer_error(static_cast<stream&>(st), status, why);
}

bool connection::tunnel_submit_head(http::stream_exchange& st, const http::response_start& h) {
    start_response(static_cast<stream&>(st), h);
    return true;
}

void connection::tunnel_reset(http::stream_exchange& st, http::tunnel_end how) {
    // RFC 9113 §8.1: once our answer is whole, NO_ERROR tells the client to stop sending.
    uint32_t code = how == http::tunnel_end::lingered  ? NGHTTP2_NO_ERROR
                    : how == http::tunnel_end::refused ? NGHTTP2_CANCEL
                                                       : NGHTTP2_INTERNAL_ERROR;
    reset_stream(static_cast<stream&>(st), code);
}

void connection::tunnel_consume(http::stream_exchange& st) {
    consume(static_cast<stream&>(st));
}

void connection::tunnel_send(http::stream_exchange& st) {
    resume(static_cast<stream&>(st));
}

} // namespace ringbolt::h2
