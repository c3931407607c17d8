// An output queue as text, for tests that compare what a queue holds with strings: each
// segment as its bytes, a file range as "[file offset+length]" (never read), batch by batch.
#pragma once

#include "core/output_queue.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringbolt::test_support {

/// A segment as a short description: its bytes, or "[file offset+length]".
inline std::string describe(const core::segment& s) {
    if (s.type == core::segment::kind::file) {
        return "[file " + std::to_string(s.file_offset) + "+" + std::to_string(s.length) + "]";
    }
    return std::string(s.bytes());
}

/// Every batch the queue gives with these limits (each sent whole), each as its segments'
/// descriptions.
inline std::vector<std::vector<std::string>> describe_batches(core::output_queue& q, size_t max_iov, size_t max_bytes) {
    std::vector<std::vector<std::string>> out;
    core::send_batch b;
    while (q.take_front(b, max_iov, max_bytes)) {
        auto& one = out.emplace_back();
        for (const core::segment& s : b.segments()) {
            one.push_back(describe(s));
        }
        b.consume(b.remaining());
        b.reset();
    }
    return out;
}

/// Everything the queue holds, its segments' descriptions joined.
inline std::string describe_output(core::output_queue& q) {
    std::string out;
    for (const std::vector<std::string>& batch : describe_batches(q, 8, SIZE_MAX)) {
        for (const std::string& s : batch) {
            out += s;
        }
    }
    return out;
}

} // namespace ringbolt::test_support
