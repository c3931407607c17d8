// libFuzzer target for the WebSocket pure pieces (ws/frame, ws/utf8, ws/deflate): the
// first byte picks options, the rest is a stream of client frames, parsed, unmasked in
// pieces, validated as UTF-8 and inflated under a small limit, checking their invariants.
#include "ws/deflate.hpp"
#include "ws/frame.hpp"
#include "ws/utf8.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace ringbolt::ws;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

constexpr uint64_t max_outs[] = {0, 1, 16, 125, 1000, 4096, 65536, 1 << 20};

struct splitter {
    uint32_t seed;
    size_t spread;
    size_t next() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        return seed % spread;
    }
};

/// The incremental validator fed in pieces must agree with the one-shot check, and
/// must refuse a prefix only if the one-shot check refuses it too.
void check_utf8(std::string_view text, splitter& split) {
    utf8_validator v;
    bool ok = true;
    for (size_t pos = 0; pos < text.size();) {
        const size_t n = std::min(split.next(), text.size() - pos);
        ok = v.feed(text.substr(pos, n));
        pos += n;
        if (!ok) {
            check(!valid_utf8(text.substr(0, pos)));
            break;
        }
    }
    const bool one_shot = valid_utf8(text);
    check((ok && v.complete()) == one_shot);
    if (one_shot) {
        check(ok);
    }
}

struct message {
    bool active = false;
    bool text = false;
    bool compressed = false;
    std::string payload;
};

void finish_message(message& m, deflate_codec& inflater, uint64_t max_out, splitter& split) {
    std::string body;
    if (m.compressed) {
        std::string out = "pre"; // decompress appends; the limit counts it
        const uint64_t limit = max_out + 3;
        const auto r = inflater.decompress(m.payload, out, limit);
        check(out.size() <= limit);
        check(out.compare(0, 3, "pre") == 0);
        if (r != deflate_codec::inflate_result::ok) {
            m = {};
            return;
        }
        body = out.substr(3);
        // What inflated compresses back and inflates to the same bytes, under a small window.
        const deflate_params p{.server_no_context_takeover = true,
                               .client_no_context_takeover = true,
                               .server_max_window_bits = 9,
                               .client_max_window_bits = 9};
        const deflate_config cfg{.mem_level = 1};
        deflate_codec a(p, cfg), b(p, cfg);
        std::string wire, back;
        check(a.compress(body, wire));
        check(b.decompress(wire, back, body.size()) == deflate_codec::inflate_result::ok);
        check(back == body);
    } else {
        body = std::move(m.payload);
    }
    if (m.text) {
        check_utf8(body, split);
    }
    m = {};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const uint8_t mode = data[0];
    const bool allow_rsv1 = (mode & 1) != 0;
    deflate_params params;
    params.client_no_context_takeover = (mode & 2) != 0;
    params.client_max_window_bits = (mode & 4) != 0 ? 9 : 15;
    const uint64_t max_out = max_outs[(mode >> 3) & 7];
    splitter split{0x9e3779b9u ^ mode, size_t((mode >> 6) + 1) * 5};
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

    // The whole input as text: the two validators agree.
    check_utf8(in, split);

    deflate_codec inflater(params, deflate_config{});
    message m;
    while (!in.empty()) {
        frame_header h;
        frame_error err = frame_error::none;
        const parse_status st = parse_client_frame(in, allow_rsv1, h, err);
        if (st == parse_status::incomplete) {
            check(err == frame_error::none);
            check(in.size() < 14);
            break;
        }
        if (st == parse_status::error) {
            check(err != frame_error::none);
            break;
        }
        check(err == frame_error::none);
        check(h.header_len <= in.size());
        const size_t len_bytes = h.header_len - 6;
        check(len_bytes == 0 || len_bytes == 2 || len_bytes == 8);
        check(h.payload_len >> 63 == 0);
        if (is_control(h.op)) {
            check(h.fin && h.payload_len <= 125 && !h.rsv1);
        }
        check(!h.rsv1 || (allow_rsv1 && h.op != opcode::continuation));
        // Every prefix of the header is incomplete, or an error the first two bytes show.
        for (size_t cut = 0; cut < h.header_len; ++cut) {
            frame_header h2;
            frame_error e2;
            check(parse_client_frame(in.substr(0, cut), allow_rsv1, h2, e2) == parse_status::incomplete);
        }
        in.remove_prefix(h.header_len);

        // The payload (cut short when the input ends), unmasked in pieces, against byte-wise.
        const size_t n = static_cast<size_t>(std::min<uint64_t>(h.payload_len, in.size()));
        std::string payload(in.substr(0, n));
        in.remove_prefix(n);
        std::string expected = payload;
        for (size_t i = 0; i < expected.size(); ++i) {
            expected[i] = static_cast<char>(static_cast<uint8_t>(expected[i]) ^ h.mask[i % 4]);
        }
        std::string copied(payload.size(), '\0'); // unmask_copy, in the same pieces, into another buffer
        for (size_t pos = 0; pos < payload.size();) {
            const size_t piece = std::min(split.next() * 3, payload.size() - pos);
            unmask_copy(copied.data() + pos, payload.data() + pos, piece, h.mask, pos);
            unmask(payload.data() + pos, piece, h.mask, pos);
            pos += piece;
        }
        check(payload == expected);
        check(copied == expected);

        if (is_control(h.op)) {
            continue;
        }
        if (h.op != opcode::continuation) {
            if (m.active) {
                break; // RFC 6455 §5.4: a new message inside a fragmented one; the connection fails
            }
            m.active = true;
            m.text = h.op == opcode::text;
            m.compressed = h.rsv1;
        } else if (!m.active) {
            break; // a continuation with no message to continue
        }
        m.payload += payload;
        if (h.fin) {
            finish_message(m, inflater, max_out, split);
        }
    }
    // An unfinished message: inflate what arrived anyway, for coverage of partial streams.
    if (m.active) {
        finish_message(m, inflater, max_out, split);
    }
    return 0;
}
