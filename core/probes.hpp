// USDT probes (sys/sdt.h): a nop instruction each when nobody traces, so they stay in
// release builds. List them with `perf list sdt_ringbolt:*` after `perf buildid-cache
// --add` on the extension, or `bpftrace -l 'usdt:/path/to/_native*.so:*'`.
//   ringbolt:accept(slot, fd)             a connection was accepted
//   ringbolt:request_parsed(slot, seq)    a complete request was parsed
//   ringbolt:handler_dispatched(slot, seq) a Python handler is about to run
//   ringbolt:response_sent(slot, bytes)   a send finished completely
//   ringbolt:close(slot, fd)              a connection was closed
#pragma once

#ifdef RINGBOLT_HAVE_SDT
#include <sys/sdt.h>
#define RB_PROBE2(name, a, b) DTRACE_PROBE2(ringbolt, name, a, b)
#else
#define RB_PROBE2(name, a, b) ((void)0)
#endif
