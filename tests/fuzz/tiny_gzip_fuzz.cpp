// libFuzzer target for http/tiny_gzip (the automatic gzip mode for tiny response
// bodies): any input up to tiny_gzip_max_input encodes inside tiny_gzip_bound to one
// gzip member that zlib's inflate decodes back to exactly the input; longer ones are
// refused. The body is the application's, so any bytes are possible.
#include "http/tiny_gzip.hpp"

#include <zlib.h>

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
    std::string out(tiny_gzip_bound(size) + 8, '\xa5');
    size_t n = tiny_gzip(in, out.data());
    if (size > tiny_gzip_max_input) {
        check(n == 0);
        return 0;
    }
    check(n >= 18 && n <= tiny_gzip_bound(size));
    check(std::memcmp(out.data() + tiny_gzip_bound(size), "\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5", 8) == 0);
    z_stream zs{};
    check(inflateInit2(&zs, 16 + 15) == Z_OK);
    std::string back(size + 1, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(out.data());
    zs.avail_in = static_cast<uInt>(n);
    zs.next_out = reinterpret_cast<Bytef*>(back.data());
    zs.avail_out = static_cast<uInt>(back.size());
    int rc = inflate(&zs, Z_FINISH);
    size_t got = back.size() - zs.avail_out;
    uInt left = zs.avail_in;
    inflateEnd(&zs);
    check(rc == Z_STREAM_END && left == 0 && got == size);
    check(std::memcmp(back.data(), data, size) == 0);
    return 0;
}
