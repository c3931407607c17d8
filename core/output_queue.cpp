// Output queue and in-flight send batch. Small pieces coalesce into the tail owned
// segment so that a keep-alive response (head + small body) is one iovec; large bodies
// stay separate segments (moved or borrowed, never copied).
#include "core/output_queue.hpp"

#include <algorithm>
#include <cstddef>
#include <new>
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
constexpr size_t fresh_capacity = output_queue::fresh_capacity;

/// The thread's kept buffers (output_queue::kept_buffers_max of them at most), in place:
/// moving a std::string in or out copies its pointer and lengths and never touches the
/// bytes. Trivially destructible (constinit, no destructor registered), so it is still
/// usable after the thread's destructors ran: `releaser` below frees what it keeps then,
/// and sets `limit` to 0 so that a later give frees at once (kept_stack's rule, in
/// pymod/native/bridge/kept_list.hpp, for values instead of pointers).
struct kept_buffers_list {
    alignas(std::string) unsigned char slots[output_queue::kept_buffers_max][sizeof(std::string)] = {};
    size_t count = 0;
    size_t limit = output_queue::kept_buffers_max;
    bool armed = false; ///< the thread's releaser is registered

    std::string* slot(size_t i) noexcept { return std::launder(reinterpret_cast<std::string*>(slots[i])); }

    /// Free every kept buffer.
    void free_all() noexcept {
        while (count > 0) {
            slot(--count)->~basic_string();
        }
    }
};
static_assert(std::is_trivially_destructible_v<kept_buffers_list>);

constinit thread_local kept_buffers_list t_kept;

struct kept_buffers_releaser {
    kept_buffers_releaser() noexcept { t_kept.armed = true; }
    ~kept_buffers_releaser() {
        t_kept.limit = 0;
        t_kept.free_all();
    }
};

/// Keep `sent` (emptied) for the next response framed on this thread, or free it: over
/// the bound, grown large, or smaller than a fresh buffer (not worth a slot).
void give_buffer(std::string&& sent) noexcept {
    size_t cap = sent.capacity();
    if (cap < fresh_capacity || cap > output_queue::kept_capacity_max) [[unlikely]] {
        std::string().swap(sent);
        return;
    }
    kept_buffers_list& k = t_kept;
    if (!k.armed) [[unlikely]] {
        static thread_local kept_buffers_releaser releaser; // frees the list at the thread's exit
        (void)releaser;
    }
    if (k.count >= k.limit) [[unlikely]] {
        std::string().swap(sent);
        return;
    }
    sent.clear();
    new (k.slots[k.count++]) std::string(std::move(sent));
}

/// Into the empty `tail`: the buffer freed last on this thread, else a fresh one.
void take_buffer_into(std::string& tail) {
    kept_buffers_list& k = t_kept;
    if (k.count > 0) [[likely]] {
        std::string* kept = k.slot(--k.count);
        tail = std::move(*kept);
        kept->~basic_string();
    } else {
        tail.reserve(fresh_capacity);
    }
}
} // namespace

size_t output_queue::kept_buffers() noexcept {
    return t_kept.count;
}

void output_queue::release_kept_buffers() noexcept {
    t_kept.free_all();
}

std::string& output_queue::tail_buffer(size_t adding) {
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
        // A new segment, or the one recycle_from emptied: the warmest buffer there is.
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
        // The common case: one buffer went out and nothing was queued since. The segment
        // itself comes back, emptied, as the tail the next response is framed into (no
        // segment is destroyed here nor made again by tail_buffer()); its buffer goes to
        // the thread's kept buffers, and tail_buffer() takes the warmest one of those.
        segment& s = sent._segs[0];
        if (s.type == segment::kind::owned && !s.credit) {
            give_buffer(std::move(s.owned));
            s.length = 0;
            s.done = 0;
            _segs.swap(sent._segs);
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

} // namespace ringbolt::http
