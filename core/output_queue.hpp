// A connection's output: a queue of segments (owned bytes, borrowed immutable bytes kept
// alive by a reference, file ranges) that the reactor sends in one submission per loop
// turn. The protocol appends; the reactor takes the front (`take_front`) into a frozen
// in-flight batch, so appends never move bytes a send still points at.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <sys/uio.h>
#include <vector>

namespace ringbolt::core {

/// An open file whose ranges are sent (closed when the last segment using it is gone).
struct file_handle {
    int fd = -1;
    explicit file_handle(int f) noexcept : fd(f) {}
    ~file_handle();
    file_handle(const file_handle&) = delete;
    file_handle& operator=(const file_handle&) = delete;
};

/// Told how many bytes of a response's body reached the kernel (a streaming producer's
/// flow control: it pauses while too much of what it produced is unsent).
class send_credit {
  public:
    virtual ~send_credit() = default;
    virtual void on_sent(size_t bytes) noexcept = 0;
};

/// One piece of a connection's output. Line-aligned, with what a keep-alive response's
/// one owned segment touches at every step (framing, take_front, iovecs, consume,
/// recycle_from: the kind, the buffer, the lengths and the credit's pointer) in its first
/// cache line: a vector of segments is swapped between a connection's queue and its send
/// batch and comes back to each request cold on one of thousands of connections, where
/// it cost two or three misses a request (issue 29: benchmarks/journal/2026-11-26.md,
/// "The output's segment in one line").
struct alignas(64) segment {
    enum class kind : uint8_t { owned, borrowed, file };
    // Hot: the first cache line.
    std::string owned;   ///< kind::owned
    uint64_t length = 0; ///< bytes of the segment (all kinds)
    uint64_t done = 0;   ///< bytes already sent from the front
    kind type = kind::owned;
    /// Told when the segment's bytes are sent. Its stored pointer (what `if (credit)`
    /// reads) ends the first line; its control block's only when there is a credit.
    std::shared_ptr<send_credit> credit;
    // Cold: borrowed bytes and file ranges.
    std::string_view view; ///< kind::borrowed: bytes kept alive by `keep`
    std::shared_ptr<const void> keep;
    std::shared_ptr<file_handle> file; ///< kind::file
    uint64_t file_offset = 0;

    std::string_view bytes() const noexcept { return type == kind::owned ? std::string_view(owned) : view; }
};

class output_queue {
  public:
    /// Below this many bytes a borrowed or moved-in chunk is copied into the tail
    /// segment instead: one iovec for a response's head and small body.
    static constexpr size_t coalesce_below = 1024;

    /// Copy `bytes` to the tail (appended to the last owned segment when possible).
    void append(std::string_view bytes);
    /// Let `write(std::string&)` append to the tail owned segment directly (the hot
    /// path: a response head and small body are serialized in place, no copy).
    template <class Write> void write_tail(Write&& write) {
        std::string& tail = tail_buffer();
        size_t before = tail.size();
        write(tail);
        size_t added = tail.size() - before;
        _segs.back().length += added;
        _bytes += added;
    }
    /// Copy `bytes` to the tail, bulk output made in pieces (TLS records): the tail owned
    /// segment takes them while its buffer has room; else a new segment with a buffer of
    /// at least `chunk` bytes. A buffer never grows, so nothing already written is copied
    /// again (as std::string's doubling would, piece after piece).
    void append_chunked(std::string_view bytes, size_t chunk);
    void append_owned(std::string&& bytes, std::shared_ptr<send_credit> credit = nullptr);
    void append_borrowed(std::string_view bytes, std::shared_ptr<const void> keep,
                         std::shared_ptr<send_credit> credit = nullptr);
    void append_file(std::shared_ptr<file_handle> file, uint64_t offset, uint64_t length,
                     std::shared_ptr<send_credit> credit = nullptr);
    /// Append bytes told to `credit` when sent: into the last segment when it is owned
    /// and has the same credit (small messages of one producer share a segment and an
    /// iovec), else as a new segment.
    void append_credited(std::string_view bytes, const std::shared_ptr<send_credit>& credit);
    /// Move everything from `other` to the end of this queue.
    void splice(output_queue& other);

    uint64_t bytes() const noexcept { return _bytes; }
    /// The next segment take_front would give is a file range (a response's file body
    /// right after its head: the head's send says MSG_MORE).
    bool front_is_file() const noexcept {
        for (size_t i = _head; i < _segs.size(); ++i) {
            if (_segs[i].length != _segs[i].done) {
                return _segs[i].type == segment::kind::file;
            }
        }
        return false;
    }
    bool empty() const noexcept { return _bytes == 0; }
    /// Drop everything (the connection is gone) and free the memory.
    void clear() noexcept;
    /// A buffer whose bytes were sent: given to the thread's kept buffers (below), from
    /// which the next response of any queue on this thread is framed.
    static void recycle(std::string&& sent) noexcept;
    /// After `sent` went out whole (the reactor's path): when nothing was queued since and
    /// it is one owned segment, the batch's vector with that segment emptied (its buffer
    /// kept) goes to the thread's kept buffers, where the next response framed on this
    /// thread takes it whole (no segment is made or destroyed per response); else the
    /// batch's owned buffers go there alone. A buffer the list does not keep (full, grown
    /// large) is freed, and the emptied segment comes back as this queue's tail: an
    /// emptied segment is never sent (take_front skips it).
    void recycle_from(class send_batch& sent) noexcept;

    /// The thread's kept buffers: sent buffers of its queues (with their segment vector,
    /// in the common case of one segment: recycle_from), last given first taken, so
    /// that a response is framed into memory a send just read (still in cache) rather than
    /// into its own connection's buffer, last touched thousands of responses ago when
    /// thousands of connections take turns (issue 29: benchmarks/journal/2026-11-26.md,
    /// "Output buffers from the thread's warm list"). At most `kept_buffers_max`, each of
    /// `fresh_capacity` to `kept_capacity_max` bytes; a buffer over either bound is freed.
    static constexpr size_t fresh_capacity = 512;     ///< a head and a small body in one allocation
    static constexpr size_t kept_capacity_max = 4096; ///< larger sent buffers are freed, not kept
    static constexpr size_t kept_buffers_max = 256;
    /// How many buffers this thread keeps now.
    static size_t kept_buffers() noexcept;
    /// Free this thread's kept buffers (a reactor's exit); later ones are kept again. At the
    /// thread's exit they are freed, and from then on a sent buffer is freed at once.
    static void release_kept_buffers() noexcept;

    /// Move front segments into `out` (which must be empty) for sending: memory segments
    /// up to `max_iov` and `max_bytes`, or a single file segment when one is at the
    /// front. Returns false when there is nothing to send. `out` then stays frozen
    /// while the send is in flight; appends here never touch it.
    bool take_front(class send_batch& out, size_t max_iov, size_t max_bytes);

  private:
    /// The owned segment to append `adding` bytes to (0: not known, a response head).
    std::string& tail_buffer(size_t adding = 0);

    // What every response touches first (a connection's protocol holds the queue at the
    // start of its first cache line).
    std::vector<segment> _segs; ///< from _head onwards
    size_t _head = 0;
    uint64_t _bytes = 0;
};

/// An in-flight batch taken by output_queue::take_front: iovecs over it, and
/// consumption as the kernel reports bytes sent.
class send_batch {
  public:
    std::vector<segment>& segments() noexcept { return _segs; }
    bool empty() const noexcept { return _index >= _segs.size(); }
    bool is_file() const noexcept { return !empty() && _segs[_index].type == segment::kind::file; }
    /// The front file segment (when is_file()).
    const segment& front() const noexcept { return _segs[_index]; }
    /// iovecs over what is not sent yet (memory segments only). Returns the count.
    size_t iovecs(iovec* iov, size_t max) const noexcept;
    uint64_t remaining() const noexcept {
        uint64_t r = 0;
        for (size_t i = _index; i < _segs.size(); ++i) {
            r += _segs[i].length - _segs[i].done;
        }
        return r;
    }
    /// `n` bytes went out; credits are told; fully sent segments are released.
    void consume(uint64_t n) noexcept;
    /// Everything went out (or the connection is gone): free the segments.
    void reset() noexcept {
        _segs.clear();
        _index = 0;
    }
    /// The first owned buffer of the batch that the thread's kept buffers would keep
    /// (once sent), for output_queue::recycle.
    std::string take_buffer() noexcept;

  private:
    friend class output_queue;
    std::vector<segment> _segs;
    size_t _index = 0;
};

} // namespace ringbolt::core
