// Large buffers for request bodies read whole, reused across requests and connections.
// A body read whole lands in one buffer of its size (HTTP/1.1's tail, handed to the
// request: request_event::buffer; or the request's own copy); above malloc's mmap
// threshold (server.cpp sets it to 256 KiB) each such buffer was mapped, faulted in page
// by page and unmapped per request, which cost more than the bytes' copies
// (benchmarks/journal/2026-11-25.md). Buffers given back are kept, up to a bound, and
// the next large body takes one whose pages are already there. Thread-safe: buffers are
// taken on a reactor's thread and given back wherever the request ends (the event loop,
// a handler thread).
#pragma once

#include <cstddef>
#include <string>

namespace ringbolt::http {

/// Buffers smaller than this are not kept (malloc's own heap serves them well).
inline constexpr size_t body_buffer_min = size_t{128} * 1024;
/// At most this many bytes of buffers are kept.
inline constexpr size_t body_buffers_kept_max = size_t{8} << 20;

/// An empty string with room for at least `capacity` bytes: a kept buffer when one is
/// large enough (the one given back last first: its pages are the likeliest in cache),
/// else a new one.
std::string take_body_buffer(size_t capacity);

/// Keep `s`'s storage for a later take_body_buffer (when large enough and the bound
/// allows; else it is freed). `s` is left empty.
void give_body_buffer(std::string&& s) noexcept;

/// Bytes of buffers kept now (tests, metrics).
size_t body_buffers_kept() noexcept;

} // namespace ringbolt::http
