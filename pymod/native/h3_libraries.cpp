// The extension's side of HTTP/3's libraries: for each function of h3_library_names.hpp a
// hidden trampoline under the function's own name (what quic/ and h3/ call), which jumps
// through a pointer; load_http3_libraries fills the pointers from the module `_h3libs`.
// Deliberately no header of the libraries here: this file defines their names.

#include "pymod/native/h3_libraries.hpp"
#include "pymod/native/h3_library_names.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>

namespace ringbolt::py {
namespace {

using h3_function = void (*)();

/// Where a pointer starts: a call before the libraries are loaded is a bug in the caller
/// (a path to quic/ or h3/ that does not go through load_http3_libraries), not a crash
/// through a null pointer.
[[noreturn]] void called_before_load(const char* name) {
    std::fprintf(stderr, "ringbolt: HTTP/3 library function %s called before load_http3_libraries()\n", name);
    std::abort();
}

#define RINGBOLT_H3_STUB(name)                                                                                         \
    [[noreturn]] void not_loaded_##name() {                                                                            \
        called_before_load(#name);                                                                                     \
    }
RINGBOLT_H3_LIBRARY_FUNCTIONS(RINGBOLT_H3_STUB)
#undef RINGBOLT_H3_STUB

[[noreturn]] void gnutls_free_not_loaded(void*) {
    called_before_load("gnutls_free");
}

/// The library's `gnutls_free` (the variable's address), read at each call as a caller
/// linked to the library reads it.
void (**library_gnutls_free)(void*) = nullptr;

void gnutls_free_forward(void* p) {
    (*library_gnutls_free)(p);
}

} // namespace
} // namespace ringbolt::py

// The pointers the trampolines jump through: C names, so that the assembly below names
// them; `used`, as only that assembly reads them.
extern "C" {
#define RINGBOLT_H3_ENTRY(name)                                                                                        \
    __attribute__((visibility("hidden"), used)) ringbolt::py::h3_function ringbolt_h3_entry_##name =                   \
        &ringbolt::py::not_loaded_##name;
RINGBOLT_H3_LIBRARY_FUNCTIONS(RINGBOLT_H3_ENTRY)
#undef RINGBOLT_H3_ENTRY

// GnuTLS's data object, defined here (hidden) for quic/'s callers: a deallocator that calls
// the library's current one once loaded.
__attribute__((visibility("hidden"))) void (*gnutls_free)(void*) = &ringbolt::py::gnutls_free_not_loaded;
}

// The trampolines: a tail jump through the pointer, so arguments, return value and the
// callers' frames are the function's own. A function handed to a library as a callback
// (ngtcp2_crypto_encrypt_cb...) is handed as its trampoline, which jumps the same way.
#if defined(__x86_64__)
#if defined(__CET__) && (__CET__ & 1)
#define RINGBOLT_H3_LANDING "endbr64\n" // indirect branch tracking: a callback is called indirectly
#else
#define RINGBOLT_H3_LANDING ""
#endif
#define RINGBOLT_H3_FUNCTION_TYPE "@function"
#define RINGBOLT_H3_JUMP(name) "jmp *ringbolt_h3_entry_" #name "(%rip)\n"
#elif defined(__aarch64__)
#if defined(__ARM_FEATURE_BTI_DEFAULT)
#define RINGBOLT_H3_LANDING "hint #34\n" // bti c: a callback is called indirectly
#else
#define RINGBOLT_H3_LANDING ""
#endif
#define RINGBOLT_H3_FUNCTION_TYPE "%function"
#define RINGBOLT_H3_JUMP(name)                                                                                         \
    "adrp x16, ringbolt_h3_entry_" #name "\n"                                                                          \
    "ldr x16, [x16, :lo12:ringbolt_h3_entry_" #name "]\n"                                                              \
    "br x16\n"
#else
// A jump through ringbolt_h3_entry_<name> in this architecture's assembly goes here.
#error "pymod/native/h3_libraries.cpp: HTTP/3's trampolines are written for x86-64 and aarch64 only"
#endif
#define RINGBOLT_H3_TRAMPOLINE(name)                                                                                   \
    asm(".pushsection .text\n"                                                                                         \
        ".globl " #name "\n"                                                                                           \
        ".hidden " #name "\n"                                                                                          \
        ".type " #name ", " RINGBOLT_H3_FUNCTION_TYPE "\n"                                                             \
        ".p2align 4\n" #name ":\n"                                                                                     \
        ".cfi_startproc\n" RINGBOLT_H3_LANDING RINGBOLT_H3_JUMP(name) ".cfi_endproc\n"                                 \
                                                                      ".size " #name ", .-" #name "\n"                 \
                                                                      ".popsection\n");
RINGBOLT_H3_LIBRARY_FUNCTIONS(RINGBOLT_H3_TRAMPOLINE)
#undef RINGBOLT_H3_TRAMPOLINE

namespace ringbolt::py {
namespace {

constexpr char own_names[] = RINGBOLT_H3_LIBRARY_NAMES;

/// The module beside the extension: `_h3libs` with the extension's own suffix
/// (`.cpython-311-x86_64-linux-gnu.so`), so builds for several Pythons share a folder.
bool module_path(std::string& path, std::string& error) {
    Dl_info info{};
    if (dladdr(own_names, &info) == 0 || info.dli_fname == nullptr) {
        error = "cannot find the extension's own file (dladdr)";
        return false;
    }
    std::string own = info.dli_fname;
    std::size_t slash = own.rfind('/');
    std::string folder = slash == std::string::npos ? "./" : own.substr(0, slash + 1);
    std::string file = slash == std::string::npos ? own : own.substr(slash + 1);
    constexpr std::string_view stem = "_native";
    if (!file.starts_with(stem)) {
        error = "the extension's file " + own + " is not named _native*";
        return false;
    }
    path = folder + "_h3libs" + file.substr(stem.size());
    return true;
}

bool load(std::string& error) {
    std::string path;
    if (!module_path(path, error)) {
        return false;
    }
    // RTLD_LOCAL: the libraries' names stay out of the process's global scope (as when the
    // extension linked them, loaded local by Python), where a module loaded later would bind
    // to them. Except for the tests' TLS clock (quic/tls_session.cpp), which looks up a test
    // hook of GnuTLS with dlsym(RTLD_DEFAULT): that finds only the global scope's and the
    // extension's own libraries.
    int scope = std::getenv("RINGBOLT_TEST_TLS_CLOCK_FILE") != nullptr ? RTLD_GLOBAL : RTLD_LOCAL;
    void* module = dlopen(path.c_str(), RTLD_NOW | scope);
    if (module == nullptr) {
        const char* why = dlerror();
        error = why != nullptr ? why : "dlopen(" + path + ") failed";
        return false;
    }
    const auto* names = static_cast<const char*>(dlsym(module, "ringbolt_h3_library_names"));
    const auto* entries = static_cast<void* const*>(dlsym(module, "ringbolt_h3_library_entries"));
    if (names == nullptr || entries == nullptr) {
        error = path + " has no table of HTTP/3 functions (not ringbolt's _h3libs module)";
        return false;
    }
    if (std::strcmp(names, own_names) != 0) {
        error = path + " was built from another list of HTTP/3 functions than this extension (a stale build)";
        return false;
    }
    library_gnutls_free = static_cast<void (**)(void*)>(entries[0]);
    gnutls_free = &gnutls_free_forward;
    std::size_t i = 1;
#define RINGBOLT_H3_FILL(name) ringbolt_h3_entry_##name = reinterpret_cast<h3_function>(entries[i++]);
    RINGBOLT_H3_LIBRARY_FUNCTIONS(RINGBOLT_H3_FILL)
#undef RINGBOLT_H3_FILL
    // The module stays loaded for the process's life: its libraries' functions are in use.
    return true;
}

} // namespace

bool load_http3_libraries(std::string& error) {
    static std::once_flag once;
    static bool loaded = false;
    static std::string failure;
    std::call_once(once, [] { loaded = load(failure); });
    if (!loaded) {
        error = failure;
    }
    return loaded;
}

} // namespace ringbolt::py
