// The WebSocket as an HTTP/1.1 connection's successor: the session does the WebSocket;
// this host gives it the connection's bytes, its output queue and its deadline, and
// closes the connection once the session is done and its output sent.
#include "ws/connection.hpp"

namespace ringbolt::ws {

connection::connection(std::shared_ptr<app_channel> channel, const settings& cfg)
    : _session(std::move(channel), cfg, _queue) {}

connection::~connection() {
    release();
}

void connection::sync_input() noexcept {
    if (_session.held()) {
        hold_input();
    } else {
        release_input();
    }
}

void connection::start(std::string_view pending, uint32_t now_s, core::core_counters& counters) {
    _session.start(pending, now_s, counters);
    sync_input(); // pending bytes are parsed at the reactor's next pump
}

void connection::open(uint32_t, uint32_t, const http::peer_address&, uint32_t, const http::connection_limits&) {
    // A WebSocket connection only ever starts from an upgrade (start()).
}

void connection::respond(uint64_t, const http::request_context&, uint16_t, std::string_view, std::string_view,
                         http::protocol_env&) {
    // Nothing is dispatched on a WebSocket: no request to answer.
}

bool connection::on_data(std::string_view data, http::protocol_env& env) {
    bool taken = _session.on_data(data, env.now_s);
    sync_input();
    return taken;
}

void connection::pump(http::protocol_env&) {
    if (!has_pending_input()) {
        return;
    }
    _session.pump();
    sync_input();
}

void connection::on_app_message(http::app_response&& m, http::protocol_env& env) {
    _session.on_app_message(std::move(m), env.now_s);
}

void connection::on_peer_eof(http::protocol_env&) {
    // A TCP close without a close frame (§7.1.5: 1006 for the application).
    _session.on_peer_end("the client closed the connection without a close frame");
}

void connection::on_timeout(http::protocol_env& env) {
    _session.on_timeout(env.now_s);
}

bool connection::begin_drain(uint32_t now_s, uint32_t) {
    return _session.begin_drain(now_s);
}

void connection::release() noexcept {
    _session.release();
    _out.clear();
}

std::unique_ptr<http::protocol> upgrade::make(uint32_t, uint32_t, const http::peer_address&, std::string_view pending,
                                              http::protocol_env& env) {
    auto conn = std::make_unique<connection>(_chan, _cfg);
    conn->start(pending, env.now_s, env.counters);
    return conn;
}

std::unique_ptr<http::hosted_session> upgrade::make_hosted(http::session_output& out, uint32_t now_s,
                                                           core::core_counters& counters) {
    auto s = std::make_unique<session>(_chan, _cfg, out);
    s->start({}, now_s, counters);
    return s;
}

} // namespace ringbolt::ws
