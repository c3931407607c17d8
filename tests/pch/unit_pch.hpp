// The unit tests' precompiled header (tests/meson.build, the executable unit_tests):
// GoogleTest and the standard headers most tests include, parsed once for all of them
// (no include guard: it is only ever the first thing a compile reads).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
