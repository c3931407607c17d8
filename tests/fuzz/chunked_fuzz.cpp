// libFuzzer target for http/chunked.cpp: the first byte picks limits and a split seed,
// the rest is the chunked body. Decoding in one piece, one byte at a time and in random
// pieces must give the same status, error, consumed count and body.
#include "http/chunked.hpp"
#include "tests/fuzz/piece_sizes.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

using namespace ringbolt::http;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

struct decode_result {
    chunked_status status = chunked_status::incomplete;
    http_error error = http_error::none;
    size_t consumed = 0;
    std::string body;
    uint64_t decoded = 0;
};

/// Feeds `in` in pieces whose sizes come from `next_piece()`, each in an exact-size copy.
template <typename NextPiece>
decode_result decode(std::string_view in, const chunked_limits& limits, NextPiece&& next_piece) {
    chunked_decoder d(limits);
    decode_result r;
    size_t pos = 0;
    do {
        size_t len = next_piece();
        if (len > in.size() - pos) {
            len = in.size() - pos;
        }
        std::unique_ptr<char[]> piece(new char[len == 0 ? 1 : len]);
        if (len != 0) {
            std::memcpy(piece.get(), in.data() + pos, len);
        }
        const chunked_outcome o = d.feed(std::string_view(piece.get(), len), r.body);
        check(o.consumed <= len);
        r.status = o.status;
        r.error = o.error;
        r.consumed += o.consumed;
        pos += len;
        if (o.status != chunked_status::incomplete) {
            check((o.status == chunked_status::error) == (o.error != http_error::none));
            break;
        }
        check(o.consumed == len);
    } while (pos < in.size());
    r.decoded = d.decoded_bytes();
    check(r.decoded == r.body.size());
    check(r.body.size() <= limits.max_body);
    return r;
}

bool same(const decode_result& a, const decode_result& b) {
    return a.status == b.status && a.error == b.error && a.consumed == b.consumed && a.body == b.body;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const uint8_t mode = data[0];
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    chunked_limits limits;
    if (mode & 1) {
        limits = {.max_body = 64, .max_chunk_line = 16, .max_trailer_bytes = 32};
    }

    const decode_result one_shot = decode(in, limits, [&] { return in.size(); });
    if (one_shot.status == chunked_status::complete) {
        check(one_shot.consumed <= in.size());
    } else if (one_shot.status == chunked_status::incomplete) {
        check(one_shot.consumed == in.size());
    }

    const decode_result bytewise = decode(in, limits, [] { return size_t{1}; });
    check(same(one_shot, bytewise));

    auto next = ringbolt::fuzz::random_piece_sizes(mode);
    const decode_result random_split = decode(in, limits, next);
    check(same(one_shot, random_split));
    return 0;
}
