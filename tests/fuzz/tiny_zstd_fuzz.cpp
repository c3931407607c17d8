// libFuzzer target for http/tiny_zstd (the automatic zstd mode for tiny response bodies):
// any input up to tiny_max_input encodes inside tiny_zstd_bound to one zstd frame
// that libzstd decodes back to exactly the input; longer ones are refused. The body
// is the application's, so any bytes are possible.
#include "tests/support/tiny_codecs.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!ringbolt::test_support::fuzz_one(ringbolt::test_support::zstd_codec, data, size)) {
        std::abort();
    }
    return 0;
}
