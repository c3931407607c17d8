// libFuzzer target for http/tiny_gzip (the automatic gzip mode for tiny response
// bodies): any input up to tiny_max_input encodes inside tiny_gzip_bound to one
// gzip member that zlib's inflate decodes back to exactly the input; longer ones are
// refused. The body is the application's, so any bytes are possible.
#include "tests/support/tiny_codecs.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!ringbolt::test_support::fuzz_one(ringbolt::test_support::gzip_codec, data, size)) {
        std::abort();
    }
    return 0;
}
