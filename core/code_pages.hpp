// The pages of code and read-only data that start-up touched and serving does not use,
// given back once the app is loaded: the dynamic linker reads every library's symbol and
// relocation tables, and module initialisation runs code spread over the whole extension,
// and the kernel maps the neighbours of each page touched too (fault-around). For the
// mappings named here (the extension and the libraries it brings that a Python process
// does not load otherwise), every page no one wrote to is unmapped (MADV_DONTNEED: its
// bytes are the file's, and the next touch maps it again from the page cache, with its
// neighbours: fault-around, which MADV_RANDOM does not turn off; it only stops readahead
// when a page must be read from the file again), so what stays is what serving touches.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringbolt::core::code_pages {

/// Whether a mapped file is one of those: `path` is `own` (the extension's own file), or
/// its file name begins with one of the libraries' names (libstdc++, simdjson, ...).
bool releasable(std::string_view path, std::string_view own) noexcept;

/// Release the pages of the releasable read-only file mappings of this process
/// (/proc/self/smaps: a mapping with any privately written page, as the relocated RELRO
/// part is, is left alone). `inside`: an address in the extension's own code (its file is
/// the one mapped there). Returns the bytes of mappings released (their size, not their
/// resident part), or 0 when smaps cannot be read.
size_t release(const void* inside) noexcept;

} // namespace ringbolt::core::code_pages
