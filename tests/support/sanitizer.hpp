// Whether this test binary runs under AddressSanitizer: RINGBOLT_TEST_ASAN is defined then
// (gcc says so with __SANITIZE_ADDRESS__, clang with __has_feature).
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define RINGBOLT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGBOLT_TEST_ASAN 1
#endif
#endif
