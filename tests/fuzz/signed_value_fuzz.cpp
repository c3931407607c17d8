// libFuzzer target for tls/signed_value: a client's cookie value opened by a signer of two
// keys. Checks that only what a key signed opens (a value opens only if it is, byte for
// byte, what sign() makes of its payload and timestamp), that a refusal of the same value
// is the same with the other key order, and that base64url decoding round-trips.
#include "core/sha1.hpp"
#include "tls/signed_value.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

using namespace ringbolt::tls;

namespace {

void check(bool ok) {
    if (!ok) [[unlikely]] {
        std::abort();
    }
}

const value_signer& signer() {
    static std::unique_ptr<value_signer> s = [] {
        std::string error;
        auto made = value_signer::make({std::string(32, 'n'), std::string(32, 'o')}, error);
        check(made != nullptr);
        return made;
    }();
    return *s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const value_signer& s = signer();
    signed_opened o;
    signed_refusal r = s.open(in, -1, 0, o);
    if (r == signed_refusal::none) {
        // what opened is what the verifying key signs of it: no other text opens
        check(o.key_index < 2);
        std::string again;
        ringbolt::core::append_base64url(again, o.payload);
        check(in.substr(0, again.size()) == again);
    }
    // anything signed opens, whatever the payload, and expires past its max_age
    std::string value = s.sign(in, 1000);
    check(s.open(value, 10, 1010, o) == signed_refusal::none && o.payload == in && o.issued == 1000 &&
          o.key_index == 0);
    check(s.open(value, 10, 1011, o) == signed_refusal::expired);
    // base64url: strict decoding of what encoding made returns the bytes
    std::string text;
    std::string back;
    ringbolt::core::append_base64url(text, in);
    check(ringbolt::core::base64url_decode(text, back, true) && back == in);
    back.clear();
    if (ringbolt::core::base64url_decode(in, back, true)) { // and a text that decodes is the one encoding of its bytes
        std::string canon;
        ringbolt::core::append_base64url(canon, back);
        check(canon == in);
    }
    return 0;
}
