// permessage-deflate (RFC 7692): the parser of the client's offers and the choice of
// parameters (§5, §7.1), and the per-connection codec over zlib raw deflate (§7.2):
// streams created on first use, freed per message without context takeover, and an
// inflate that never writes past the caller's limit.
#include "ws/deflate.hpp"

#include "core/strings.hpp"
#include "http/char_classes.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace ringbolt::ws {
namespace {

// ---- Negotiation -------------------------------------------------------------------

/// Walks a Sec-WebSocket-Extensions value (RFC 6455 §9.1, RFC 9110 §5.6.1 lists).
class extension_scanner {
  public:
    explicit extension_scanner(std::string_view s) noexcept : _s(s) {}

    void skip_ows() noexcept {
        while (_pos < _s.size() && (_s[_pos] == ' ' || _s[_pos] == '\t')) {
            ++_pos;
        }
    }
    bool at_end() const noexcept { return _pos >= _s.size(); }
    bool take(char c) noexcept {
        if (_pos < _s.size() && _s[_pos] == c) {
            ++_pos;
            return true;
        }
        return false;
    }
    std::string_view token() noexcept {
        size_t start = _pos;
        while (_pos < _s.size() && http::chars::tchar[static_cast<unsigned char>(_s[_pos])]) {
            ++_pos;
        }
        return _s.substr(start, _pos - start);
    }
    /// A quoted-string (after its opening quote), unescaped into `out`. False if unterminated.
    bool quoted(std::string& out) {
        out.clear();
        while (_pos < _s.size()) {
            char c = _s[_pos++];
            if (c == '"') {
                return true;
            }
            if (c == '\\') {
                if (_pos >= _s.size()) {
                    return false;
                }
                c = _s[_pos++];
            }
            out += c;
        }
        return false;
    }

  private:
    std::string_view _s;
    size_t _pos = 0;
};

/// RFC 7692 §7.1.2.1/§7.1.2.2 value ABNF: %x38-39 / "1" %x30-35, no leading zeros.
int parse_window_bits(std::string_view v) noexcept {
    if (v.size() == 1 && (v[0] == '8' || v[0] == '9')) {
        return v[0] - '0';
    }
    if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        return 10 + (v[1] - '0');
    }
    return -1;
}

/// One permessage-deflate offer's parameters, checked as they are read (§7.1).
struct offer_state {
    bool acceptable = true;
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    int server_max_window_bits = 0; ///< 0: absent
    bool client_max_window_bits_seen = false;
    int client_max_window_bits = 0; ///< 0: absent or without a value

    void apply(std::string_view name, bool has_value, std::string_view value) noexcept {
        if (core::iequals(name, "server_no_context_takeover")) {
            // §7.1.1.1: no value; §7.1: a duplicate declines the offer.
            acceptable &= !has_value && !server_no_context_takeover;
            server_no_context_takeover = true;
        } else if (core::iequals(name, "client_no_context_takeover")) {
            acceptable &= !has_value && !client_no_context_takeover; // §7.1.1.2
            client_no_context_takeover = true;
        } else if (core::iequals(name, "server_max_window_bits")) {
            // §7.1.2.1: a value is required.
            int bits = has_value ? parse_window_bits(value) : -1;
            acceptable &= bits > 0 && server_max_window_bits == 0;
            server_max_window_bits = bits > 0 ? bits : -1;
        } else if (core::iequals(name, "client_max_window_bits")) {
            // §7.1.2.2: the value is optional ("I can limit my window").
            int bits = has_value ? parse_window_bits(value) : 0;
            acceptable &= bits >= 0 && !client_max_window_bits_seen;
            client_max_window_bits_seen = true;
            client_max_window_bits = bits;
        } else {
            acceptable = false; // §7.1: an unknown parameter declines the offer
        }
    }
};

} // namespace

std::optional<deflate_params> negotiate_deflate(std::string_view offers, const deflate_config& cfg,
                                                std::string& response) {
    response.clear();
    if (!cfg.enabled) {
        return std::nullopt;
    }
    const int server_limit = std::clamp<int>(cfg.max_window_bits, 9, 15);
    extension_scanner sc(offers);
    std::string quoted_value;
    for (;;) {
        sc.skip_ows();
        if (sc.at_end()) {
            return std::nullopt;
        }
        if (sc.take(',')) {
            continue; // RFC 9110 §5.6.1: empty list elements are allowed and ignored
        }
        std::string_view name = sc.token();
        if (name.empty()) {
            return std::nullopt; // malformed header: decline everything rather than guess
        }
        offer_state offer;
        for (;;) {
            sc.skip_ows();
            if (sc.at_end() || sc.take(',')) {
                break;
            }
            if (!sc.take(';')) {
                return std::nullopt;
            }
            sc.skip_ows();
            std::string_view param = sc.token();
            if (param.empty()) {
                return std::nullopt;
            }
            sc.skip_ows();
            bool has_value = false;
            std::string_view value;
            if (sc.take('=')) {
                sc.skip_ows();
                has_value = true;
                if (sc.take('"')) {
                    // RFC 6455 §9.1: a quoted value must be a token once unquoted
                    // (client_max_window_bits="10" is allowed).
                    if (!sc.quoted(quoted_value)) {
                        return std::nullopt;
                    }
                    value = quoted_value;
                } else {
                    value = sc.token();
                    if (value.empty()) {
                        return std::nullopt;
                    }
                }
            }
            offer.apply(param, has_value, value);
        }
        if (!core::iequals(name, "permessage-deflate") || !offer.acceptable) {
            continue;
        }
        // zlib cannot compress raw deflate with an 8-bit window (deflateInit2 refuses -8),
        // and §7.1.2.1 only lets us answer the same or a smaller value: answering 9 would
        // make a conforming client fail the connection, and compressing with 9 while
        // answering 8 could emit distances its 256-byte window cannot reach. So an offer
        // of server_max_window_bits=8 is declined; the client's next offer may fit.
        if (offer.server_max_window_bits == 8) {
            continue;
        }
        deflate_params p;
        p.server_no_context_takeover = offer.server_no_context_takeover;
        p.client_no_context_takeover = offer.client_no_context_takeover;
        p.server_max_window_bits = static_cast<uint8_t>(
            offer.server_max_window_bits > 0 ? std::min(offer.server_max_window_bits, server_limit) : server_limit);
        // A client limited to 8 bits may still use 9 (zlib silently turns 8 into 9 on
        // its side), and inflating with a larger window than the sender's is always safe.
        p.client_max_window_bits =
            static_cast<uint8_t>(offer.client_max_window_bits > 0 ? std::max(offer.client_max_window_bits, 9) : 15);

        // Answer with the parameters agreed only (§7.1): the client's requests of the
        // server, and its own no_context_takeover, which frees our inflater per message.
        response = "permessage-deflate";
        if (p.server_no_context_takeover) {
            response += "; server_no_context_takeover";
        }
        if (p.client_no_context_takeover) {
            response += "; client_no_context_takeover";
        }
        if (offer.server_max_window_bits > 0) {
            response += "; server_max_window_bits=";
            response += std::to_string(p.server_max_window_bits);
        }
        return p;
    }
}

// ---- Codec -------------------------------------------------------------------------

namespace {

constexpr unsigned char sync_tail[4] = {0x00, 0x00, 0xFF, 0xFF}; // §7.2.1: an empty stored block
constexpr size_t alloc_header = 16;                              // keeps zlib's allocations 16-byte aligned
constexpr size_t max_zlib_chunk = size_t(1) << 30;               // avail_in/avail_out are 32-bit

/// zlib's allocator: malloc with the size stored in front, counted in the codec's figure.
voidpf counting_alloc(voidpf opaque, uInt items, uInt size) {
    const size_t bytes = size_t(items) * size;
    auto* raw = static_cast<unsigned char*>(std::malloc(bytes + alloc_header));
    if (raw == nullptr) {
        return nullptr;
    }
    std::memcpy(raw, &bytes, sizeof bytes);
    *static_cast<size_t*>(opaque) += bytes;
    return raw + alloc_header;
}

void counting_free(voidpf opaque, voidpf address) {
    if (address == nullptr) {
        return;
    }
    auto* raw = static_cast<unsigned char*>(address) - alloc_header;
    size_t bytes;
    std::memcpy(&bytes, raw, sizeof bytes);
    *static_cast<size_t*>(opaque) -= bytes;
    std::free(raw);
}

} // namespace

deflate_codec::deflate_codec(const deflate_params& params, const deflate_config& cfg) noexcept
    : _params(params), _cfg(cfg) {}

deflate_codec::~deflate_codec() {
    if (_deflater != nullptr) {
        deflateEnd(_deflater);
        delete _deflater;
    }
    if (_inflater != nullptr) {
        inflateEnd(_inflater);
        delete _inflater;
    }
}

namespace {

z_stream* new_stream(size_t* counter) noexcept {
    auto* z = new (std::nothrow) z_stream{};
    if (z != nullptr) {
        z->zalloc = counting_alloc;
        z->zfree = counting_free;
        z->opaque = counter;
    }
    return z;
}

void free_deflater(z_stream*& z) noexcept {
    if (z != nullptr) {
        deflateEnd(z);
        delete z;
        z = nullptr;
    }
}

void free_inflater(z_stream*& z) noexcept {
    if (z != nullptr) {
        inflateEnd(z);
        delete z;
        z = nullptr;
    }
}

} // namespace

bool deflate_codec::compress(std::string_view message, std::string& out) {
    if (message.empty()) {
        // §7.2.3.6: an empty stored block, less its tail, is one 0x00 byte. zlib would
        // emit nothing at all (a second sync flush in a row is a no-op for it).
        out += '\0';
        return true;
    }
    if (_deflater == nullptr) {
        _deflater = new_stream(&_memory);
        if (_deflater == nullptr) {
            return false;
        }
        const int bits = std::clamp<int>(_params.server_max_window_bits, 9, 15);
        const int level = std::clamp(_cfg.level, 0, 9);
        const int mem_level = std::clamp<int>(_cfg.mem_level, 1, 9);
        // Negative windowBits: raw deflate, no zlib header or checksum (§7.2.1).
        if (deflateInit2(_deflater, level, Z_DEFLATED, -bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
            delete _deflater;
            _deflater = nullptr;
            return false;
        }
    }
    z_stream* z = _deflater;
    const size_t base = out.size();
    const auto* in = reinterpret_cast<const unsigned char*>(message.data());
    size_t in_left = message.size();
    z->next_in = const_cast<Bytef*>(in);
    z->avail_in = 0;
    bool ok = true;
    for (;;) {
        if (z->avail_in == 0 && in_left > 0) {
            const size_t piece = std::min(in_left, max_zlib_chunk);
            z->next_in = const_cast<Bytef*>(in + (message.size() - in_left));
            z->avail_in = static_cast<uInt>(piece);
            in_left -= piece;
        }
        // §7.2.1: the message ends with a sync flush, so it ends on a byte boundary.
        const int flush = in_left == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        const size_t old = out.size();
        const size_t room = std::min<size_t>(deflateBound(z, z->avail_in) + 16, max_zlib_chunk);
        out.resize(old + room);
        z->next_out = reinterpret_cast<Bytef*>(out.data() + old);
        z->avail_out = static_cast<uInt>(room);
        const int rc = deflate(z, flush);
        out.resize(old + room - z->avail_out);
        if (rc != Z_OK && rc != Z_BUF_ERROR) [[unlikely]] {
            ok = false;
            break;
        }
        // With Z_SYNC_FLUSH, the flush is complete when deflate left output space unused.
        if (flush == Z_SYNC_FLUSH && z->avail_in == 0 && z->avail_out != 0) {
            break;
        }
    }
    // §7.2.1: drop the 0x00 0x00 0xff 0xff the sync flush ends with.
    if (ok && out.size() - base >= 4 && std::memcmp(out.data() + out.size() - 4, sync_tail, 4) == 0) {
        out.resize(out.size() - 4);
    } else {
        ok = false;
    }
    if (!ok) {
        out.resize(base);
        free_deflater(_deflater); // the stream's state is unknown now
        return false;
    }
    if (_params.server_no_context_takeover) {
        free_deflater(_deflater); // §7.1.1.1: a fresh context per message; free it meanwhile
    }
    return true;
}

deflate_codec::inflate_result deflate_codec::decompress(std::string_view payload, std::string& out, uint64_t max_out) {
    if (_inflater == nullptr) {
        _inflater = new_stream(&_memory);
        if (_inflater == nullptr) {
            return inflate_result::too_large; // out of memory: the message cannot be held
        }
        const int bits = std::clamp<int>(_params.client_max_window_bits, 9, 15);
        if (inflateInit2(_inflater, -bits) != Z_OK) {
            delete _inflater;
            _inflater = nullptr;
            return inflate_result::too_large;
        }
    }
    z_stream* z = _inflater;
    const auto* in = reinterpret_cast<const unsigned char*>(payload.data());
    size_t in_left = payload.size();
    bool tail_fed = false;
    bool out_full = false; // the last call filled its output: inflate may hold more
    size_t produced_total = 0;
    inflate_result result = inflate_result::ok;
    z->avail_in = 0;
    for (;;) {
        if (z->avail_in == 0 && !out_full) {
            if (in_left > 0) {
                const size_t piece = std::min(in_left, max_zlib_chunk);
                z->next_in = const_cast<Bytef*>(in + (payload.size() - in_left));
                z->avail_in = static_cast<uInt>(piece);
                in_left -= piece;
            } else if (!tail_fed) {
                // §7.2.2: append the 4 octets the sender removed, then inflate.
                z->next_in = const_cast<Bytef*>(sync_tail);
                z->avail_in = 4;
                tail_fed = true;
            } else {
                break; // all input consumed and all output delivered
            }
        }
        // Bounded steps: the output window never reaches past max_out. When no room is
        // left, a one-byte probe tells "more output" (too large) from "nothing more".
        const size_t old = out.size();
        const size_t room = old < max_out ? static_cast<size_t>(std::min<uint64_t>(max_out - old, max_zlib_chunk)) : 0;
        const size_t step = std::min(room, std::clamp<size_t>(produced_total, 16384, size_t(1) << 20));
        unsigned char probe;
        if (step > 0) {
            out.resize(old + step);
            z->next_out = reinterpret_cast<Bytef*>(out.data() + old);
            z->avail_out = static_cast<uInt>(step);
        } else {
            z->next_out = &probe;
            z->avail_out = 1;
        }
        const uInt in_before = z->avail_in;
        const int rc = inflate(z, Z_SYNC_FLUSH);
        const size_t produced = (step > 0 ? step : 1) - z->avail_out;
        if (step > 0) {
            out.resize(old + produced);
            produced_total += produced;
            out_full = z->avail_out == 0;
        } else if (produced > 0) {
            result = inflate_result::too_large; // RFC 6455 §7.4.1 1009; the probe byte is dropped
            break;
        } else {
            out_full = false;
        }
        if (rc == Z_STREAM_END) {
            // The sender set BFINAL (RFC 7692 §7.2.3.4). Bytes after that block are ignored,
            // as zlib-based peers do: the RFC's own example has a 0x00 there. The next
            // message starts a new stream, as the sender's must.
            inflateReset(z);
            break;
        }
        if (rc == Z_MEM_ERROR) [[unlikely]] {
            result = inflate_result::too_large;
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            result = inflate_result::corrupt; // Z_DATA_ERROR, Z_NEED_DICT: not a raw deflate stream
            break;
        }
        if (rc == Z_BUF_ERROR && z->avail_in == in_before && produced == 0 && z->avail_in > 0) [[unlikely]] {
            result = inflate_result::corrupt; // no progress with input and room: never loop forever
            break;
        }
    }
    // Without client context takeover (§7.1.1.2) each message starts afresh: free the
    // stream until the next one. After an error its state is unusable anyway.
    if (result != inflate_result::ok || _params.client_no_context_takeover) {
        free_inflater(_inflater);
    }
    return result;
}

size_t deflate_codec::memory_in_use() const noexcept {
    return _memory + (_deflater != nullptr ? sizeof(z_stream) : 0) + (_inflater != nullptr ? sizeof(z_stream) : 0);
}

} // namespace ringbolt::ws
