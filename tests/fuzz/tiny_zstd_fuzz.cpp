// libFuzzer target for http/tiny_zstd (the automatic zstd mode for tiny response bodies):
// any input up to tiny_zstd_max_input encodes inside tiny_zstd_bound to one zstd frame
// that libzstd decodes back to exactly the input; longer ones are refused. The body
// is the application's, so any bytes are possible.
#include "http/tiny_zstd.hpp"

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringbolt::http;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string out(tiny_zstd_bound(size) + 8, '\xa5');
    size_t n = tiny_zstd(in, out.data());
    if (size > tiny_zstd_max_input) {
        check(n == 0);
        return 0;
    }
    check(n >= 1 && n <= tiny_zstd_bound(size));
    check(std::memcmp(out.data() + tiny_zstd_bound(size), "\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5", 8) == 0);
    std::string back(size + 1, '\0');
    size_t got = ZSTD_decompress(back.data(), back.size(), out.data(), n);
    check(!ZSTD_isError(got) && got == size && std::memcmp(back.data(), data, size) == 0);
    check(ZSTD_getFrameContentSize(out.data(), n) == size);
    return 0;
}
