// The start-up pages given back (core/code_pages.hpp): which mapped files are released,
// that a released read-only mapping is no longer resident and reads the same after, and
// that a mapping with a privately written page (a relocated RELRO part) is left alone.
// The served process's own mappings: tests/py/test_startup_pages.py.
#include "core/code_pages.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace ringbolt::core {
namespace {

constexpr size_t page = 4096;
constexpr size_t pages = 64;

/// The resident kB of the mapping that holds `at` (/proc/self/smaps), -1 when none does.
long resident_kb(const void* at) {
    FILE* f = std::fopen("/proc/self/smaps", "re");
    if (f == nullptr) {
        return -1;
    }
    auto addr = reinterpret_cast<uintptr_t>(at);
    bool inside = false;
    long rss = -1;
    char line[4096];
    while (std::fgets(line, sizeof line, f) != nullptr) {
        unsigned long start = 0;
        unsigned long end = 0;
        if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
            inside = std::sscanf(line, "%lx-%lx", &start, &end) == 2 && start <= addr && addr < end;
        } else if (inside && std::strncmp(line, "Rss:", 4) == 0) {
            rss = std::strtol(line + 4, nullptr, 10);
            break;
        }
    }
    std::fclose(f);
    return rss;
}

/// A file of `pages` pages, page i filled with the byte i + 1, mapped private.
struct mapped_file {
    std::string path;
    unsigned char* data = nullptr;

    explicit mapped_file(int prot) {
        char name[] = "/tmp/rb-code-pages-XXXXXX";
        int fd = mkstemp(name);
        path = name;
        for (size_t i = 0; i < pages; ++i) {
            std::string block(page, static_cast<char>(i + 1));
            EXPECT_EQ(write(fd, block.data(), block.size()), static_cast<ssize_t>(block.size()));
        }
        data = static_cast<unsigned char*>(mmap(nullptr, pages * page, prot, MAP_PRIVATE, fd, 0));
        close(fd);
    }
    ~mapped_file() {
        munmap(data, pages * page);
        unlink(path.c_str());
    }
    unsigned sum() const {
        unsigned total = 0;
        for (size_t i = 0; i < pages; ++i) {
            total += data[i * page];
        }
        return total;
    }
};

TEST(CodePages, TheExtensionAndTheLibrariesItBringsAreReleasable) {
    EXPECT_TRUE(code_pages::releasable("/x/ringbolt/_native.so", "/x/ringbolt/_native.so"));
    EXPECT_TRUE(code_pages::releasable("/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", ""));
    EXPECT_TRUE(code_pages::releasable("/usr/lib/x86_64-linux-gnu/libsimdjson.so.14.0.0", ""));
    EXPECT_TRUE(code_pages::releasable("/usr/lib/x86_64-linux-gnu/libzstd.so.1.5.4", ""));
    // CPython's and its modules' own libraries are not.
    EXPECT_FALSE(code_pages::releasable("/usr/lib/x86_64-linux-gnu/libcrypto.so.3", ""));
    EXPECT_FALSE(code_pages::releasable("/usr/lib/x86_64-linux-gnu/libc.so.6", ""));
    EXPECT_FALSE(code_pages::releasable("/opt/python/lib/libpython3.11.so.1.0", "/x/_native.so"));
    EXPECT_FALSE(code_pages::releasable("", ""));
    EXPECT_FALSE(code_pages::releasable("[heap]", ""));
}

TEST(CodePages, AReleasedMappingIsNotResidentAndReadsTheSame) {
    mapped_file f(PROT_READ);
    ASSERT_NE(f.data, MAP_FAILED);
    unsigned before = f.sum();
    EXPECT_EQ(before, pages * (pages + 1) / 2);
    EXPECT_GE(resident_kb(f.data), static_cast<long>(pages)); // every page touched
    EXPECT_GE(code_pages::release(f.data), pages * page);     // (the file is "own": the address is in it)
    EXPECT_EQ(resident_kb(f.data), 0);
    EXPECT_EQ(f.sum(), before); // mapped again from the file
}

TEST(CodePages, AMappingWithAPrivatelyWrittenPageIsLeftAlone) {
    mapped_file f(PROT_READ | PROT_WRITE);
    ASSERT_NE(f.data, MAP_FAILED);
    f.data[3 * page] = 200;                                  // copied on write, as the dynamic linker's relocations are
    ASSERT_EQ(mprotect(f.data, pages * page, PROT_READ), 0); // then read-only, as RELRO is
    unsigned before = f.sum();
    long resident = resident_kb(f.data);
    (void)code_pages::release(f.data); // (the test binary's own libstdc++ is released)
    EXPECT_EQ(resident_kb(f.data), resident);
    EXPECT_EQ(f.sum(), before);
    EXPECT_EQ(f.data[3 * page], 200);
}

} // namespace
} // namespace ringbolt::core
