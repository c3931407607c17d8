// Output queue and in-flight send batch. Small pieces coalesce into the tail owned
// segment so that a keep-alive response (head + small body) is one iovec; large bodies
// stay separate segments (moved or borrowed, never copied).
#include "core/output_queue.hpp"

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <unistd.h>

namespace ringbolt::http {

// The segment's first cache line holds what a keep-alive response touches (the header's
// comment); the vector's blocks are line-aligned by the segment's alignment. (libstdc++'s
// shared_ptr stores its pointer first: `if (credit)` reads offset 56 to 63.)
static_assert(std::is_standard_layout_v<segment>);
static_assert(alignof(segment) == 64 && sizeof(segment) == 128);
static_assert(offsetof(segment, owned) + sizeof(std::string) <= 64 &&
              offsetof(segment, done) + sizeof(uint64_t) <= 64 && offsetof(segment, type) < 64 &&
              offsetof(segment, credit) + sizeof(void*) <= 64);

file_handle::~file_handle() {
    if (fd >= 0) {
        ::close(fd);
    }
}

namespace {
constexpr size_t keep_segments = 8; // vectors larger than this are freed when empty

constexpr size_t fresh_capacity = 512;           ///< a head and a small body in one allocation
constexpr size_t spare_max_capacity = 16 * 1024; ///< larger sent buffers are freed, not kept
} // namespace

std::string& output_queue::tail_buffer(size_t adding) {
    // A large owned segment (a moved-in body) takes more bytes only where its buffer has
    // room: growing it would copy the whole body for a few bytes (the next frame header
    // or response head), so they start a new segment instead.
    if (_head == _segs.size() || _segs.back().type != segment::kind::owned || _segs.back().credit ||
        (_segs.back().owned.size() >= coalesce_below &&
         _segs.back().owned.capacity() - _segs.back().owned.size() < (adding == 0 ? fresh_capacity : adding))) {
        segment& s = _segs.emplace_back();
        s.type = segment::kind::owned;
        if (_spare.capacity() >= fresh_capacity) {
            s.owned = std::move(_spare); // the last sent buffer: no allocation per response
        } else {
            s.owned.reserve(fresh_capacity);
        }
    }
    return _segs.back().owned;
}

void output_queue::append(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    std::string& tail = tail_buffer(bytes.size());
    tail.append(bytes);
    _segs.back().length += bytes.size();
    _bytes += bytes.size();
}

void output_queue::append_chunked(std::string_view bytes, size_t chunk) {
    if (bytes.empty()) {
        return;
    }
    bool tail_fits = _head < _segs.size() && _segs.back().type == segment::kind::owned && !_segs.back().credit &&
                     _segs.back().owned.size() + bytes.size() <= _segs.back().owned.capacity();
    if (!tail_fits) {
        if (_head < _segs.size() && _segs.back().type == segment::kind::owned && !_segs.back().credit &&
            _segs.back().owned.empty()) {
            _segs.back().owned.reserve(std::max(chunk, bytes.size())); // an emptied tail: nothing to copy
        } else {
            segment& s = _segs.emplace_back();
            s.type = segment::kind::owned;
            s.owned.reserve(std::max(chunk, bytes.size()));
        }
    }
    segment& s = _segs.back();
    s.owned.append(bytes);
    s.length += bytes.size();
    _bytes += bytes.size();
}

void output_queue::append_owned(std::string&& bytes, std::shared_ptr<send_credit> credit) {
    if (bytes.empty()) {
        if (credit) {
            credit->on_sent(0);
        }
        return;
    }
    if (bytes.size() < coalesce_below && !credit) {
        append(bytes);
        return;
    }
    segment& s = _segs.emplace_back();
    s.type = segment::kind::owned;
    s.length = bytes.size();
    s.owned = std::move(bytes);
    s.credit = std::move(credit);
    _bytes += s.length;
}

void output_queue::append_credited(std::string_view bytes, const std::shared_ptr<send_credit>& credit) {
    if (bytes.empty()) {
        return;
    }
    // Segments from _head on are not in flight (take_front moves them out whole), so
    // the last one may grow.
    if (_head == _segs.size() || _segs.back().type != segment::kind::owned || _segs.back().credit != credit) {
        segment& s = _segs.emplace_back();
        s.type = segment::kind::owned;
        s.credit = credit;
    }
    segment& s = _segs.back();
    s.owned.append(bytes);
    s.length += bytes.size();
    _bytes += bytes.size();
}

void output_queue::append_borrowed(std::string_view bytes, std::shared_ptr<const void> keep,
                                   std::shared_ptr<send_credit> credit) {
    if (bytes.empty()) {
        return;
    }
    if (bytes.size() < coalesce_below && !credit) {
        append(bytes);
        return;
    }
    segment& s = _segs.emplace_back();
    s.type = segment::kind::borrowed;
    s.view = bytes;
    s.keep = std::move(keep);
    s.length = bytes.size();
    s.credit = std::move(credit);
    _bytes += s.length;
}

void output_queue::append_file(std::shared_ptr<file_handle> file, uint64_t offset, uint64_t length,
                               std::shared_ptr<send_credit> credit) {
    if (length == 0) {
        return;
    }
    segment& s = _segs.emplace_back();
    s.type = segment::kind::file;
    s.file = std::move(file);
    s.file_offset = offset;
    s.length = length;
    s.credit = std::move(credit);
    _bytes += length;
}

void output_queue::splice(output_queue& other) {
    for (size_t i = other._head; i < other._segs.size(); ++i) {
        segment& s = other._segs[i];
        if (s.type == segment::kind::owned && !s.credit && s.length < coalesce_below) {
            append(s.owned);
        } else {
            _bytes += s.length - s.done;
            _segs.push_back(std::move(s));
        }
    }
    other.clear();
}

void output_queue::recycle(std::string&& sent) noexcept {
    // (An empty std::string has an inline capacity of 15: compare with real sizes.)
    if (_spare.capacity() < fresh_capacity && sent.capacity() >= fresh_capacity &&
        sent.capacity() <= spare_max_capacity) {
        sent.clear();
        _spare = std::move(sent); // (a move: cheaper than a swap)
    }
}

void output_queue::recycle_from(send_batch& sent) noexcept {
    if (_segs.empty() && sent._segs.size() == 1) [[likely]] {
        // The common case: one buffer went out and nothing was queued since. The segment
        // itself comes back, emptied, as the tail the next response is framed into (its
        // buffer kept): no segment is destroyed here nor made again by tail_buffer().
        segment& s = sent._segs[0];
        if (s.type == segment::kind::owned && !s.credit && s.owned.capacity() >= fresh_capacity &&
            s.owned.capacity() <= spare_max_capacity) {
            s.owned.clear();
            s.length = 0;
            s.done = 0;
            _segs.swap(sent._segs);
            _head = 0;
            sent._index = 0;
            return;
        }
    }
    if (_spare.capacity() >= fresh_capacity) {
        return; // one kept already: the batch's buffers go with its reset
    }
    for (segment& s : sent._segs) {
        if (s.type == segment::kind::owned && s.owned.capacity() >= fresh_capacity) {
            if (s.owned.capacity() <= spare_max_capacity) {
                _spare = std::move(s.owned);
                _spare.clear();
            }
            return;
        }
    }
}

void output_queue::clear() noexcept {
    std::string().swap(_spare);
    _segs.clear();
    if (_segs.capacity() > keep_segments) {
        std::vector<segment>().swap(_segs);
    }
    _head = 0;
    _bytes = 0;
}

bool output_queue::take_front(send_batch& out, size_t max_iov, size_t max_bytes) {
    if (_bytes == 0) {
        return false; // (an empty owned segment may wait here for the next response: recycle_from)
    }
    out._segs.clear();
    out._index = 0;
    if (_head == 0 && _segs.size() == 1 && _segs[0].type != segment::kind::file) [[likely]] {
        // One memory segment (a response's head and small body): the batch takes the
        // whole vector, and this queue the batch's empty one (both keep their capacity),
        // instead of moving the segment across.
        _bytes -= _segs[0].length - _segs[0].done;
        _segs.swap(out._segs);
        return true;
    }
    size_t taken_bytes = 0;
    while (_head < _segs.size() && out._segs.size() < max_iov) {
        segment& s = _segs[_head];
        if (s.length == s.done) [[unlikely]] {
            ++_head; // the emptied tail recycle_from left, followed by something else: nothing to send
            continue;
        }
        bool file = s.type == segment::kind::file;
        if (file && !out._segs.empty()) {
            break; // a file range goes out on its own (sendfile)
        }
        if (!out._segs.empty() && taken_bytes + (s.length - s.done) > max_bytes) {
            break;
        }
        taken_bytes += s.length - s.done;
        _bytes -= s.length - s.done;
        out._segs.push_back(std::move(s));
        ++_head;
        if (file) {
            break;
        }
    }
    if (_head == _segs.size()) {
        _segs.clear(); // keep the capacity: the next response reuses it
        _head = 0;
    }
    return true;
}

size_t send_batch::iovecs(iovec* iov, size_t max) const noexcept {
    size_t n = 0;
    for (size_t i = _index; i < _segs.size() && n < max; ++i) {
        const segment& s = _segs[i];
        if (s.type == segment::kind::file) {
            break;
        }
        std::string_view b = s.bytes();
        iov[n].iov_base = const_cast<char*>(b.data() + s.done);
        iov[n].iov_len = b.size() - s.done;
        ++n;
    }
    return n;
}

void send_batch::consume(uint64_t n) noexcept {
    while (n > 0 && _index < _segs.size()) {
        segment& s = _segs[_index];
        uint64_t left = s.length - s.done;
        uint64_t used = n < left ? n : left;
        s.done += used;
        n -= used;
        if (s.credit) {
            s.credit->on_sent(used);
        }
        if (s.done == s.length) {
            if (s.type != segment::kind::owned) {
                s.keep.reset(); // release borrowed bytes and files as soon as they are sent
                s.file.reset();
            }
            if (s.credit) {
                s.credit.reset();
            }
            ++_index;
        }
    }
}

std::string send_batch::take_buffer() noexcept {
    for (segment& s : _segs) {
        if (s.type == segment::kind::owned && s.owned.capacity() >= fresh_capacity) {
            return std::move(s.owned);
        }
    }
    return {};
}

} // namespace ringbolt::http
