// libFuzzer target for http/tiny_br (the automatic br mode for tiny response bodies):
// any input up to tiny_br_max_input encodes inside tiny_br_bound to one brotli stream
// that libbrotlidec decodes back to exactly the input; longer ones are refused. The body
// is the application's, so any bytes are possible.
#include "http/tiny_br.hpp"

#include <brotli/decode.h>

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
    std::string out(tiny_br_bound(size) + 8, '\xa5');
    size_t n = tiny_br(in, out.data());
    if (size > tiny_br_max_input) {
        check(n == 0);
        return 0;
    }
    check(n >= 1 && n <= tiny_br_bound(size));
    check(std::memcmp(out.data() + tiny_br_bound(size), "\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5", 8) == 0);
    std::string back(size + 1, '\0');
    size_t got = back.size();
    check(BrotliDecoderDecompress(n, reinterpret_cast<const uint8_t*>(out.data()), &got,
                                  reinterpret_cast<uint8_t*>(back.data())) == BROTLI_DECODER_RESULT_SUCCESS);
    check(got == size && std::memcmp(back.data(), data, size) == 0);
    return 0;
}
