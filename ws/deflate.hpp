// permessage-deflate (RFC 7692): negotiation of the extension from the client's
// offers, and the per-connection compressor/decompressor over zlib raw deflate, with
// each direction's context kept or reset per message as negotiated. Memory is bounded:
// zlib streams are created on first use, freed after each message in a direction
// without context takeover, and decompression stops at a caller-given output limit
// (a deflate bomb never allocates more than that).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

typedef struct z_stream_s z_stream;

namespace ringbolt::ws {

/// What the server allows (from its configuration).
struct deflate_config {
    bool enabled = true;
    uint8_t max_window_bits = 15; ///< the largest LZ77 window the server compresses with (9-15)
    int level = 6;                ///< zlib compression level (1-9)
    uint8_t mem_level = 8;        ///< zlib memLevel for the compressor (1-9): memory vs speed
    uint32_t compress_above = 64; ///< messages shorter than this are sent uncompressed (RSV1 clear)
};

/// The parameters agreed for one connection (RFC 7692 §7.1).
struct deflate_params {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    uint8_t server_max_window_bits = 15; ///< window the server compresses with (9-15)
    uint8_t client_max_window_bits = 15; ///< window the client compresses with, so the one we inflate with
};

/// Pick the first acceptable permessage-deflate offer among the client's
/// Sec-WebSocket-Extensions header values (comma-separated offers, each with
/// `;`-separated parameters; the header may appear several times: pass them joined with
/// ", "). Offers with unknown or duplicate parameters or bad values are declined
/// (RFC 7692 §5.1, §7.1). Returns nullopt when none is acceptable or `cfg.enabled` is
/// false; else the parameters, and `response` holds the Sec-WebSocket-Extensions value
/// to answer with.
std::optional<deflate_params> negotiate_deflate(std::string_view offers, const deflate_config& cfg,
                                                std::string& response);

class deflate_codec {
  public:
    enum class inflate_result : uint8_t {
        ok,
        too_large, ///< the message would exceed `max_out` (close 1009)
        corrupt,   ///< not a valid deflate stream (close 1007 per Autobahn's expectations: invalid payload)
    };

    deflate_codec(const deflate_params& params, const deflate_config& cfg) noexcept;
    ~deflate_codec();
    deflate_codec(const deflate_codec&) = delete;
    deflate_codec& operator=(const deflate_codec&) = delete;

    /// Compress one whole message, appending the payload to send (the trailing
    /// 0x00 0x00 0xff 0xff removed, §7.2.1) to `out`. False on a zlib failure (out of memory).
    bool compress(std::string_view message, std::string& out);

    /// Decompress one whole message's payload (all its frames' payloads concatenated),
    /// appending to `out`, which must not grow beyond `max_out` bytes in total.
    inflate_result decompress(std::string_view payload, std::string& out, uint64_t max_out);

    /// Bytes zlib holds for this connection now (for the per-connection memory figure).
    size_t memory_in_use() const noexcept;

  private:
    deflate_params _params;
    deflate_config _cfg;
    z_stream* _deflater = nullptr;
    z_stream* _inflater = nullptr;
    size_t _memory = 0;
};

} // namespace ringbolt::ws
