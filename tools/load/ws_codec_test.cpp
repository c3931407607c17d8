// Owns: unit tests of ringbolt-ws-load's pure parts — the server-frame parser (every
// case fed whole, split at every byte offset and one byte at a time), client frame
// building, and the handshake check (RFC 6455 §1.3's example key). Built and run by
// test_ringbolt_ws_load.py (make -C tools/load ws-codec-test).
#include "ws_frame.hpp"
#include "ws_handshake.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace ringbolt_load;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    if (!ok) {
        ++failures;
        fprintf(stderr, "FAIL: %s\n", what.c_str());
    }
}

std::string frame(uint8_t b0, const std::string& payload, int len_form = 0) {
    std::string f(1, static_cast<char>(b0));
    size_t n = payload.size();
    if (len_form == 0) {
        len_form = n < 126 ? 7 : n <= 0xffff ? 16 : 64;
    }
    if (len_form == 7) {
        f += static_cast<char>(n);
    } else if (len_form == 16) {
        f += static_cast<char>(126);
        f += static_cast<char>(n >> 8);
        f += static_cast<char>(n);
    } else {
        f += static_cast<char>(127);
        for (int s = 56; s >= 0; s -= 8) {
            f += static_cast<char>(static_cast<uint64_t>(n) >> s);
        }
    }
    return f + payload;
}

// What a feed of the whole input in the given pieces produced, as text:
// "D<op>:<bytes>" per message (pieces joined), "C<op>:<payload>" per control frame,
// "E<result>" on an error.
std::string run(const std::string& in, const std::vector<size_t>& cuts, uint64_t limit = uint64_t{1} << 30) {
    ws_frame_parser p(limit);
    std::string out;
    std::string message;
    size_t start = 0;
    std::vector<size_t> bounds = cuts;
    bounds.push_back(in.size());
    for (size_t end : bounds) {
        const char* data = in.data() + start;
        size_t len = end - start;
        start = end;
        while (true) {
            size_t used = 0;
            ws_event ev;
            ws_frame_parser::result r = p.feed(data, len, &used, &ev);
            if (r != ws_frame_parser::result::ok) {
                return out + "E" + std::to_string(static_cast<int>(r));
            }
            data += used;
            len -= used;
            if (ev.what == ws_event::kind::data) {
                message.append(ev.data == nullptr ? "" : std::string(ev.data, ev.len));
                if (ev.message_end) {
                    out += "D" + std::to_string(static_cast<int>(ev.message_opcode)) + ":" + message + ";";
                    message.clear();
                }
            } else if (ev.what == ws_event::kind::control) {
                out += "C" + std::to_string(static_cast<int>(ev.control_opcode)) + ":" +
                       std::string(ev.control_payload, ev.control_len) + ";";
            } else if (len == 0) {
                break;
            }
        }
    }
    return out;
}

struct parser_case {
    const char* name;
    std::string input;
    std::string want;
    uint64_t limit = uint64_t{1} << 30;
};

void test_parser() {
    std::string big16(300, 'x');
    std::string big64(70000, 'y');
    std::vector<parser_case> cases = {
        {"text", frame(0x81, "hello"), "D1:hello;"},
        {"binary, 16-bit length", frame(0x82, big16), "D2:" + big16 + ";"},
        {"binary, 64-bit length", frame(0x82, big64), "D2:" + big64 + ";"},
        {"empty binary", frame(0x82, ""), "D2:;"},
        {"fragments with a ping between", frame(0x01, "Hel") + frame(0x89, "x") + frame(0x80, "lo"), "C9:x;D1:Hello;"},
        {"empty final continuation", frame(0x02, "ab") + frame(0x80, ""), "D2:ab;"},
        {"two messages back to back", frame(0x81, "a") + frame(0x82, "bc"), "D1:a;D2:bc;"},
        {"close with code", frame(0x88, "\x03\xe8"), "C8:\x03\xe8;"},
        {"pong", frame(0x8A, ""), "C10:;"},
        {"masked", std::string("\x81\x85", 2) + "abcd" + "hello", "E1"},
        {"rsv1", frame(0xC1, "hi"), "E2"},
        {"reserved opcode", frame(0x83, "hi"), "E3"},
        {"fragmented ping", frame(0x09, "hi"), "E4"},
        {"long ping", frame(0x89, std::string(126, 'p')), "E4"},
        {"continuation first", frame(0x80, "hi"), "E5"},
        {"new message inside one", frame(0x01, "a") + frame(0x81, "b"), "E5"},
        {"non-minimal 16-bit length", frame(0x82, "abc", 16), "E6"},
        {"non-minimal 64-bit length", frame(0x82, "abc", 64), "E6"},
        {"64-bit length with the top bit", std::string("\x82\x7f\x80\0\0\0\0\0\0\0", 10), "E6"},
        {"over the limit", frame(0x02, "abcd") + frame(0x80, "efgh"), "E7", 6},
    };
    for (const parser_case& c : cases) {
        std::string whole = run(c.input, {}, c.limit);
        check(whole == c.want, std::string(c.name) + ": whole input gave " + whole.substr(0, 80));
        // split in two at every offset (bounded for the 70 KB case), then one byte at a time
        size_t step = c.input.size() > 1000 ? 997 : 1;
        for (size_t cut = 1; cut < c.input.size(); cut += step) {
            std::string got = run(c.input, {cut}, c.limit);
            check(got == c.want, std::string(c.name) + ": split at " + std::to_string(cut));
        }
        if (c.input.size() < 1000) {
            std::vector<size_t> cuts;
            for (size_t k = 1; k < c.input.size(); ++k) {
                cuts.push_back(k);
            }
            check(run(c.input, cuts, c.limit) == c.want, std::string(c.name) + ": byte at a time");
        }
    }
}

void test_client_frames() {
    const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    for (size_t n : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}}) {
        std::string payload(n, '\0');
        for (size_t j = 0; j < n; ++j) {
            payload[j] = static_cast<char>(j * 31);
        }
        std::string f;
        append_client_frame(&f, ws_opcode::binary, payload.data(), n, key);
        check(f.size() == client_frame_size(n), "frame size for " + std::to_string(n));
        auto* b = reinterpret_cast<const uint8_t*>(f.data());
        check(b[0] == 0x82, "FIN + binary");
        check((b[1] & 0x80) != 0, "MASK bit");
        size_t head = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
        uint64_t len = b[1] & 0x7f;
        if (len == 126) {
            len = (uint64_t{b[2]} << 8) | b[3];
        } else if (len == 127) {
            len = 0;
            for (int i = 2; i < 10; ++i) {
                len = (len << 8) | b[i];
            }
        }
        check(len == n, "length field for " + std::to_string(n));
        check(memcmp(b + head, key, 4) == 0, "key");
        bool same = true;
        for (size_t j = 0; j < n; ++j) {
            same = same && static_cast<char>(b[head + 4 + j] ^ key[j & 3]) == payload[j];
        }
        check(same, "masked payload for " + std::to_string(n));
    }
}

void test_handshake() {
    // RFC 6455 §1.3
    check(ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 example accept");
    check(ws_make_key(0, 0) == "AAAAAAAAAAAAAAAAAAAAAA==", "key is base64 of 16 bytes");
    const std::string accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    struct hs_case {
        const char* name;
        std::string head;
        ws_handshake_result want;
    };
    std::string ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: " +
                     accept + "\r\n\r\n";
    std::vector<hs_case> cases = {
        {"ok", ok, ws_handshake_result::ok},
        {"ok, token list and case",
         "HTTP/1.1 101 x\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-accept:" + accept +
             "\r\n\r\n",
         ws_handshake_result::ok},
        {"403", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", ws_handshake_result::bad_status},
        {"wrong accept",
         "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n",
         ws_handshake_result::bad_accept},
        {"no upgrade", "HTTP/1.1 101 x\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n",
         ws_handshake_result::bad_header},
        {"extension not offered", ok.substr(0, ok.size() - 2) + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
         ws_handshake_result::bad_header},
        {"incomplete", ok.substr(0, ok.size() - 1), ws_handshake_result::incomplete},
    };
    for (const hs_case& c : cases) {
        size_t head_len = 0;
        ws_handshake_result r = ws_check_response(c.head.data(), c.head.size(), accept, &head_len);
        check(r == c.want, std::string("handshake ") + c.name + ": got " + ws_handshake_error_name(r));
        if (r == ws_handshake_result::ok) {
            check(head_len == c.head.size(), std::string("handshake ") + c.name + ": head length");
        }
    }
    std::string with_frame = ok + "\x81\x02hi";
    size_t head_len = 0;
    check(ws_check_response(with_frame.data(), with_frame.size(), accept, &head_len) == ws_handshake_result::ok &&
              head_len == ok.size(),
          "bytes after the head are left for the frame parser");
}

} // namespace

int main() {
    test_parser();
    test_client_frames();
    test_handshake();
    if (failures != 0) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("ws codec: all passed\n");
    return 0;
}
