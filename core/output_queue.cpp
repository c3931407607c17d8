// Output queue and in-flight send batch. Small pieces coalesce into the tail owned
// segment so that a keep-alive response (head + small body) is one iovec; large bodies
// stay separate segments (moved or borrowed, never copied).
#include "core/output_queue.hpp"

#include "core/kept_stack.hpp"
#include "core/large_buffers.hpp"

#include <algorithm>
#include <cstddef>
#include <new>
#include <type_traits>
#include <unistd.h>

namespace ringbolt::core {

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
constexpr size_t fresh_capacity = output_queue::fresh_capacity;

/// The thread's kept buffers (output_queue::kept_buffers_max of them at most, both stacks
/// together): sent segment vectors that hold one emptied segment with its buffer (the
/// common case: a response's whole output, ready to be framed into again), and sent
/// buffers alone. Constant-initialized and trivially destructible (kept_stack), so it is
/// still usable after the thread's destructors ran: release_kept_buffers, at the thread's
/// exit, makes a later give free at once.
struct kept_buffers_list {
    kept_stack<std::vector<segment>, output_queue::kept_buffers_max> tails;
    kept_stack<std::string, output_queue::kept_buffers_max> buffers;
    bool armed = false; ///< the thread's exit releases the stacks

    /// Room for one more (the thread's release registered first).
    bool room() noexcept;
};
static_assert(std::is_trivially_destructible_v<kept_buffers_list>);

constinit thread_local kept_buffers_list t_kept;

void release_kept_at_exit() noexcept {
    t_kept.tails.release();
    t_kept.buffers.release();
}

bool kept_buffers_list::room() noexcept {
    release_at_thread_exit<release_kept_at_exit>(armed);
    return tails.size() + buffers.size() < output_queue::kept_buffers_max;
}

bool keepable(const std::string& buffer) noexcept {
    // Not smaller than a fresh buffer (not worth a slot), not grown large.
    return buffer.capacity() >= fresh_capacity && buffer.capacity() <= output_queue::kept_capacity_max;
}

/// Keep `sent` (emptied) for the next response framed on this thread, or free it: over
/// the bound, or smaller than a fresh buffer. A large one (a large body) goes to the
/// process's kept large buffers, for the next large body (core/large_buffers.hpp).
void give_buffer(std::string&& sent) noexcept {
    if (sent.capacity() >= large_buffers::min_capacity) [[unlikely]] {
        large_buffers::give(std::move(sent));
        return;
    }
    kept_buffers_list& k = t_kept;
    if (keepable(sent) && k.room()) [[likely]] {
        sent.clear();
        if (k.buffers.give(sent)) [[likely]] {
            return;
        }
    }
    std::string().swap(sent);
}

/// Into the empty `tail`: the buffer freed last on this thread, else a fresh one.
void take_buffer_into(std::string& tail) {
    kept_buffers_list& k = t_kept;
    if (!k.buffers.take(tail)) [[unlikely]] {
        tail.reserve(fresh_capacity);
    }
}
} // namespace

size_t output_queue::kept_buffers() noexcept {
    return t_kept.tails.size() + t_kept.buffers.size();
}

void output_queue::release_kept_buffers() noexcept {
    t_kept.tails.clear();
    t_kept.buffers.clear();
}

std::string& output_queue::tail_buffer(size_t adding) {
    kept_buffers_list& k = t_kept;
    if (_segs.capacity() == 0 && k.tails.take(_segs)) [[likely]] {
        // The common case (no segment since the last send): a segment with its buffer,
        // the one sent last on this thread, still in cache (recycle_from).
        _head = 0;
        return _segs.back().owned;
    }
    // A large owned segment (a moved-in body) takes more bytes only where its buffer has
    // room: growing it would copy the whole body for a few bytes (the next frame header
    // or response head), so they start a new segment instead.
    if (_head == _segs.size() || _segs.back().type != segment::kind::owned || _segs.back().credit ||
        (_segs.back().owned.size() >= coalesce_below &&
         _segs.back().owned.capacity() - _segs.back().owned.size() < (adding == 0 ? fresh_capacity : adding))) {
        segment& s = _segs.emplace_back();
        s.type = segment::kind::owned;
    }
    std::string& tail = _segs.back().owned;
    if (tail.capacity() < fresh_capacity && tail.empty()) {
        // A new segment, or one recycle_from emptied: the warmest buffer there is.
        take_buffer_into(tail);
    }
    return tail;
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
    give_buffer(std::move(sent));
}

void output_queue::recycle_from(send_batch& sent) noexcept {
    if (_segs.empty() && sent._segs.size() == 1) [[likely]] {
        // The common case: one buffer went out and nothing was queued since. The batch's
        // segment vector, its one segment emptied with its buffer, goes to the thread's
        // kept buffers, where the next response framed on this thread takes it
        // (tail_buffer): no segment is made or destroyed per response, and no memory of
        // this connection's is touched again until it sends.
        segment& s = sent._segs[0];
        if (s.type == segment::kind::owned && !s.credit) {
            s.length = 0;
            s.done = 0;
            kept_buffers_list& k = t_kept;
            bool kept = false;
            if (keepable(s.owned) && k.room()) [[likely]] {
                s.owned.clear();
                kept = k.tails.give(sent._segs); // (leaves the batch's vector without memory)
            }
            if (!kept) [[unlikely]] {
                // Over the bound, grown large, or the thread ending: the buffer is freed
                // (give_buffer), the emptied segment comes back as this queue's tail.
                give_buffer(std::move(s.owned));
                _segs.swap(sent._segs);
            }
            _head = 0;
            sent._index = 0;
            return;
        }
    }
    for (segment& s : sent._segs) {
        if (s.type == segment::kind::owned && s.owned.capacity() >= fresh_capacity) {
            give_buffer(std::move(s.owned));
        }
    }
}

void output_queue::clear() noexcept {
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
        if (s.type == segment::kind::owned && s.owned.capacity() >= fresh_capacity &&
            s.owned.capacity() <= output_queue::kept_capacity_max) {
            return std::move(s.owned);
        }
    }
    return {};
}

} // namespace ringbolt::core
