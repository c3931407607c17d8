// An HTTP/2 client for the h2 tests: libnghttp2's client session, its bytes for the server
// in `out`, what the server answers per stream (head, body, end, reset) and its GOAWAY. A
// test submits requests through nghttp2 itself (`submit`) and feeds it the server's bytes.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ringbolt::h2_test {

struct nghttp2_client {
    struct answer {
        std::map<std::string, std::string> headers;
        std::string body;
        bool ended = false;
        uint32_t reset = 0xffffffff;
    };
    nghttp2_session* session = nullptr;
    std::string out; ///< bytes for the server
    std::map<int32_t, answer> answers;
    uint32_t goaway = 0xffffffff;

    nghttp2_client() {
        nghttp2_session_callbacks* cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_send_callback(
            cb, [](nghttp2_session*, const uint8_t* d, size_t n, int, void* u) -> ssize_t {
                static_cast<nghttp2_client*>(u)->out.append(reinterpret_cast<const char*>(d), n);
                return static_cast<ssize_t>(n);
            });
        nghttp2_session_callbacks_set_on_header_callback(
            cb,
            [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v, size_t vl,
               uint8_t, void* u) -> int {
                static_cast<nghttp2_client*>(u)->answers[f->hd.stream_id].headers[std::string(
                    reinterpret_cast<const char*>(n), nl)] = std::string(reinterpret_cast<const char*>(v), vl);
                return 0;
            });
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
            cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* u) -> int {
                static_cast<nghttp2_client*>(u)->answers[id].body.append(reinterpret_cast<const char*>(d), n);
                return 0;
            });
        nghttp2_session_callbacks_set_on_frame_recv_callback(
            cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) -> int {
                auto* c = static_cast<nghttp2_client*>(u);
                if (f->hd.type == NGHTTP2_GOAWAY) {
                    c->goaway = f->goaway.error_code;
                } else if (f->hd.type == NGHTTP2_RST_STREAM) {
                    c->answers[f->hd.stream_id].reset = f->rst_stream.error_code;
                }
                if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
                    (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
                    c->answers[f->hd.stream_id].ended = true;
                }
                return 0;
            });
        nghttp2_session_client_new(&session, cb, this);
        nghttp2_session_callbacks_del(cb);
        nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
        flush();
    }
    nghttp2_client(const nghttp2_client&) = delete;
    nghttp2_client& operator=(const nghttp2_client&) = delete;
    ~nghttp2_client() { nghttp2_session_del(session); }
    void flush() { nghttp2_session_send(session); }

    /// A request of these fields (and the body `body` gives, if any): its stream id.
    int32_t submit(std::vector<std::pair<std::string, std::string>> fields, const nghttp2_data_provider* body) {
        std::vector<nghttp2_nv> nva;
        for (auto& [n, v] : fields) {
            nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()), n.size(),
                           v.size(), NGHTTP2_NV_FLAG_NONE});
        }
        int32_t id = nghttp2_submit_request(session, nullptr, nva.data(), nva.size(), body, nullptr);
        flush();
        return id;
    }
    void receive(const std::string& bytes) {
        nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        flush();
    }
};

} // namespace ringbolt::h2_test
