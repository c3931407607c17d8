// libFuzzer target for http/multipart.cpp: the first byte picks limits and a split seed,
// the next line (up to '\n', at most 70 bytes) is the boundary, the rest is the body.
// Parsing in one piece, one byte at a time and in random pieces must give the same
// status, error and parts; part data never exceeds the part size limit.
#include "http/multipart.hpp"
#include "tests/fuzz/piece_sizes.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace ringbolt::http;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

struct recorder final : multipart_sink {
    const multipart_limits* limits = nullptr;
    std::vector<std::string> parts;
    bool open = false;
    bool on_part_begin(const multipart_part& p) override {
        check(!open);
        check(p.name.size() <= limits->max_name_length);
        open = true;
        parts.push_back(p.name + '\0' + p.filename + '\0' + std::string(p.content_type) + '\0');
        return true;
    }
    bool on_part_data(std::string_view d) override {
        check(open && !d.empty());
        parts.back().append(d);
        return true;
    }
    bool on_part_end() override {
        check(open);
        open = false;
        parts.back().push_back('\1');
        return true;
    }
};

struct result {
    multipart_status_code status;
    multipart_error error;
    std::vector<std::string> parts;
};

template <typename NextPiece>
result run(std::string_view boundary, std::string_view body, const multipart_limits& limits, NextPiece&& next) {
    multipart_parser p(boundary, limits);
    recorder r;
    r.limits = &limits;
    multipart_status_code st = multipart_status_code::incomplete;
    size_t pos = 0;
    while (pos < body.size() && st == multipart_status_code::incomplete) {
        size_t len = std::min(next(), body.size() - pos);
        std::unique_ptr<char[]> piece(new char[len == 0 ? 1 : len]);
        if (len != 0) {
            std::memcpy(piece.get(), body.data() + pos, len);
        }
        st = p.feed(std::string_view(piece.get(), len), r);
        pos += len;
    }
    if (st == multipart_status_code::incomplete) {
        st = p.finish();
    }
    check((st == multipart_status_code::error) == (p.error() != multipart_error::none));
    check(p.parts() <= limits.max_parts);
    return {st, p.error(), std::move(r.parts)};
}

bool same(const result& a, const result& b) {
    if (a.status != b.status || a.error != b.error) {
        return false;
    }
    return a.status == multipart_status_code::error || a.parts == b.parts;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const uint8_t mode = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos || nl > 70) {
        return 0;
    }
    std::string_view boundary = rest.substr(0, nl);
    std::string_view body = rest.substr(nl + 1);
    multipart_limits limits;
    if (mode & 1) {
        limits = {.max_parts = 3, .max_part_size = 64, .max_header_bytes = 128, .max_name_length = 8};
    }
    const result whole = run(boundary, body, limits, [&] { return body.size(); });
    const result bytewise = run(boundary, body, limits, [] { return size_t{1}; });
    check(same(whole, bytewise));
    auto next = ringbolt::fuzz::random_piece_sizes(mode);
    check(same(whole, run(boundary, body, limits, next)));
    return 0;
}
