// libFuzzer target for http/tiny_br (the automatic br mode for tiny response bodies):
// any input up to tiny_max_input encodes inside tiny_br_bound to one brotli stream
// that libbrotlidec decodes back to exactly the input; longer ones are refused. The body
// is the application's, so any bytes are possible.
#include "tests/support/tiny_codecs.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!ringbolt::test_support::fuzz_one(ringbolt::test_support::br_codec, data, size)) {
        std::abort();
    }
    return 0;
}
