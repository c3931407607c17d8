// What h2/connection.cpp and h2/response.cpp share: a stream's state (the exchange both
// HTTP/2 and HTTP/3 keep, http/stream_exchange.hpp, plus HTTP/2's own), the output of a
// session a stream hosts (a WebSocket, RFC 8441) and the output queue's drain hook.
#pragma once

#include "h2/connection.hpp"
#include "http/hosted_session.hpp"
#include "http/stream_exchange.hpp"

namespace ringbolt::h2 {

/// One stream: its request as it arrives, then its response as it is produced.
struct connection::stream : http::stream_exchange {
    int32_t id = 0;
    // A streamed request body: the stream's window is given back only as the app takes
    // it (WINDOW_UPDATE follows the app's reads). The connection's window is not held:
    // DATA is credited to it as it arrives (connection::on_data_chunk).
    uint64_t consumed = 0;    ///< of `received`, given back to the stream's flow-control window
    http::stream_clock clock; ///< its head, body and response clocks (http/stream_policy.hpp)
    // An extended CONNECT (RFC 8441 §4): the stream carries a WebSocket once the app accepts.
    std::string protocol; ///< :protocol as received
    tunnel_phase tunnel = tunnel_phase::none;
    std::unique_ptr<http::session_output> hosted_out; ///< the session's frames into `pending`
    std::unique_ptr<http::hosted_session> hosted;     ///< set while tunnel_phase::hosting
    uint32_t linger_until = 0; ///< the WebSocket is over: the client's END_STREAM is awaited until then
};

/// A hosted session's output: pieces of the stream's pending DATA, paced by the client's
/// windows like any answer's body, each credited to the session's producer as it is sent.
struct connection::stream_output final : http::session_output {
    stream& st;
    explicit stream_output(stream& s) : st(s) {}
    void add(http::stream_piece&& p) {
        st.pending_bytes += p.left;
        st.pending.push_back(std::move(p));
    }
    void append(std::string_view bytes, const std::shared_ptr<core::send_credit>& credit) override {
        if (bytes.empty()) {
            return;
        }
        http::stream_piece p;
        p.bytes.assign(bytes);
        p.left = bytes.size();
        p.credit = credit;
        add(std::move(p));
    }
    void append_owned(std::string&& bytes, std::shared_ptr<core::send_credit> credit) override {
        if (bytes.empty()) {
            return;
        }
        http::stream_piece p;
        p.left = bytes.size();
        p.bytes = std::move(bytes);
        p.credit = std::move(credit);
        add(std::move(p));
    }
    void append_borrowed(std::string_view bytes, std::shared_ptr<const void> keep,
                         std::shared_ptr<core::send_credit> credit) override {
        if (bytes.empty()) {
            return;
        }
        http::stream_piece p;
        p.view = bytes;
        p.keep = std::move(keep);
        p.left = bytes.size();
        p.credit = std::move(credit);
        add(std::move(p));
    }
};

struct connection::drain_hook final : public core::send_credit {
    connection* conn;
    explicit drain_hook(connection* c) : conn(c) {}
    void on_sent(size_t) noexcept override {
        if (conn != nullptr) {
            conn->_hook_armed = false;
            conn->on_output_drained();
        }
    }
};

} // namespace ringbolt::h2
