// A streamed response's producer side: a Python iterator (on a thread) or async
// iterator (on the event loop) hands chunks to a response_stream, which delivers them
// to the reactor as messages and applies the connection's backpressure: a producer
// waits while too much of what it produced is unsent, and learns when the client is
// gone. The reactor reports progress through the stream_control interface.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "dispatch/app_request.hpp"
#include "server/reactor.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ringbolt::py {

/// Something a Python producer or consumer waits on: a thread on a condition variable,
/// or a coroutine on a future that the event loop resolves when stream_ready() lists
/// it (the reactor writes an eventfd the loop watches; no GIL on the reactor thread).
class loop_waitable : public std::enable_shared_from_this<loop_waitable> {
  public:
    virtual ~loop_waitable();
    /// Register a future (GIL held), resolved through stream_ready() once ready_now().
    void set_waiter(PyObject* future);

  protected:
    /// Under _mutex: the waiter may go on.
    virtual bool ready_now() const noexcept = 0;
    /// Wake a waiting thread and queue the future, if any (any thread, no GIL).
    void notify() noexcept;

    std::mutex _mutex;
    std::condition_variable _cv;
    bool _waiting = false;       ///< a thread waits on _cv
    PyObject* _waiter = nullptr; ///< a coroutine's future (GIL-guarded refcount)
    bool _waiter_queued = false; ///< in the ready list already

    friend PyObject* stream_ready(bool clear_fd);
};

class response_stream final : public http::stream_control, public loop_waitable {
  public:
    /// Unsent bytes above which a producer waits (resumes below half).
    static constexpr uint64_t high_water = 1u << 20;

    /// `what`: "METHOD target", for log lines about this response.
    response_stream(server::response_sink& sink, const http::app_response& address, http::response_head head,
                    std::string what)
        : _sink(sink), _head(std::move(head)), _declared(_head.content_length), _what(std::move(what)) {
        _address.conn_slot = address.conn_slot;
        _address.conn_gen = address.conn_gen;
        _address.seq = address.seq;
        _address.route_id = address.route_id;
        _address.start_ns = address.start_ns;
    }

    // Producer side. GIL held on entry.
    /// Deliver a chunk (bytes or str). 1: delivered; 0: the client is gone; -1: a Python
    /// error is set (not bytes/str).
    int deliver_chunk(PyObject* chunk);
    /// Wait (GIL released) until below the low-water mark or closed. False when closed.
    bool wait_writable();
    /// Over the high-water mark now (an async producer then awaits a waiter).
    bool must_wait() const noexcept;
    void end();
    /// A HEAD answer: the head, with the length GET would send, and no body (RFC 9110
    /// §9.3.2), so a declared Content-Length is not held against the bytes produced.
    void end_without_body();
    void abort();
    bool closed() const noexcept { return _closed.load(std::memory_order_acquire); }

    // Reactor side (stream_control).
    void on_sent(size_t bytes) noexcept override;
    void on_closed() noexcept override;

  private:
    bool ready_now() const noexcept override;
    void deliver(http::app_response&& m);

    server::response_sink& _sink;
    http::app_response _address; ///< slot, gen, seq, route id, start time
    http::response_head _head;
    int64_t _declared; ///< the handler's Content-Length (-1: none)
    std::string _what;
    bool _head_sent = false;
    bool _finished = false;
    std::atomic<uint64_t> _produced{0};
    std::atomic<uint64_t> _sent{0};
    std::atomic<bool> _closed{false};
};

/// The application's end of a request body streamed as it arrives (async handlers'
/// `req.stream()`): the reactor pushes, the handler takes; taking sends credit back so
/// the reactor reads on (and the first take answers Expect: 100-continue).
class request_body final : public http::body_stream, public loop_waitable {
  public:
    /// The most bytes one take() hands over (one bytes object): the block size, and so the
    /// size of a receive straight into the body. 128 KiB: the kernel charges per receive
    /// (each one's window update makes a loopback client send in the receiver's softirq),
    /// and receiving a 10 MB body on one core with 64 connections cost 18% less in 128 KiB
    /// receives than in 64 KiB ones (a C io_uring drain, benchmarks/journal/2026-11-26.md),
    /// 256 KiB no less again; still under the mmap threshold (256 KiB, server.cpp), so
    /// blocks come from malloc's heap, not from fresh mappings.
    static constexpr size_t max_chunk = size_t{128} * 1024;

    request_body(server::response_sink& sink, uint32_t slot, uint32_t gen, uint64_t seq);
    ~request_body() override;

    // Reactor side.
    void push(std::string_view bytes) noexcept override;
    void finish() noexcept override;
    void fail(http::body_error why) noexcept override;
    uint64_t unconsumed() const noexcept override;
    std::span<char> write_space(uint64_t max) noexcept override;
    void commit(size_t n) noexcept override;

    /// Application side (GIL held): the next chunk (new bytes), b"" at the end, None when
    /// nothing has arrived yet (await a waiter), or NULL with an exception (HTTPError 413,
    /// 408 or 400, or ClientDisconnect).
    PyObject* take(const struct python_types& types);
    /// Block this thread (GIL released) until take() has something to say, at most
    /// `timeout_s` seconds; true when it has. For sync readers (WSGI's wsgi.input).
    bool wait_ready(double timeout_s);

  private:
    bool ready_now() const noexcept override;
    void send_credit();

    server::response_sink& _sink;
    uint32_t _slot, _gen;
    uint64_t _seq;
    /// A block: max_chunk bytes of storage (uninitialized: a direct read fills it) and
    /// how many of them hold body bytes. The storage is a bytes object's (`obj`, made
    /// under the GIL by take(): a read hands the object itself over, no copy) or plain
    /// memory (`data`: copied into a bytes object by the read; the first blocks of a body,
    /// before the app has read, and any when no bytes object could be made).
    class block {
      public:
        block() = default;
        block(block&& o) noexcept : data(std::move(o.data)), obj(std::exchange(o.obj, nullptr)), size(o.size) {}
        block& operator=(block&& o) noexcept {
            if (this != &o) {
                drop_object();
                data = std::move(o.data);
                obj = std::exchange(o.obj, nullptr);
                size = o.size;
            }
            return *this;
        }
        ~block() { drop_object(); }
        char* bytes() const noexcept { return obj != nullptr ? PyBytes_AS_STRING(obj) : data.get(); }
        /// The bytes object, its size cut to `size` (GIL held; null with a Python error set).
        PyObject* take_object() noexcept;

        std::unique_ptr<char[]> data;
        PyObject* obj = nullptr; ///< one reference, ours; no Python code sees it before take_object
        size_t size = 0;

      private:
        /// Any thread: the reference is dropped later, under the GIL (release_sent_objects).
        void drop_object() noexcept;
    };
    block new_block(); ///< under _mutex
    /// GIL held, not under _mutex: bytes-object blocks for the reactor to fill, up to
    /// object_blocks_target of them alive in this body.
    void make_object_blocks();
    /// Bytes-object blocks one body keeps alive (filled, being filled, or spare): what the
    /// body window lets the reactor fill ahead of the app, one receive and one spare.
    static constexpr size_t object_blocks_target = http::connection_limits{}.body_window / max_chunk + 2;

    // The body is kept in blocks of max_chunk bytes: the reactor fills them in order, a
    // read hands the first one over as one bytes object and keeps it for refilling. Each
    // byte is copied once on each side (receive buffer -> block -> bytes object), no
    // block is above the mmap threshold (256 KiB, server.cpp), and none is allocated per
    // chunk once the body is under way.
    // A list, not a deque: a deque allocates its map and a first node when constructed,
    // and every ASGI request makes one of these only to hear a disconnect (its watch:
    // dispatcher.cpp), never holding a block; a list allocates nothing until a block
    // comes, then a node per 128 KiB block.
    std::list<block> _blocks;         ///< under _mutex: filled in order (the last may have room)
    std::vector<block> _spare;        ///< under _mutex: empty blocks
    std::vector<block> _object_spare; ///< under _mutex: empty bytes-object blocks (taken first)
    size_t _object_blocks = 0;        ///< app side (GIL): bytes-object blocks made and not yet handed over
    block _writing;                   ///< reactor side: the block write_space() lent, until commit()
    std::atomic<uint64_t> _pushed{0};
    std::atomic<uint64_t> _taken{0};
    bool _finished = false; ///< under _mutex
    bool _failed = false;   ///< under _mutex
    http::body_error _why = http::body_error::disconnect;
    bool _asked = false; ///< the app has read once (credit sent: 100 Continue)
};

/// The eventfd an event loop watches for stream readiness (created on first use).
int stream_notify_fd();
/// Futures of async producers that may go on (GIL held); clears the eventfd (not with
/// `clear_fd` false: a hosting loop after its turn, end_hosted_turn, which wrote none).
PyObject* stream_ready(bool clear_fd = true);
/// The loop has something new to look at (async requests staged for it, app_bridge):
/// the eventfd is written now, or, on a reactor thread, once at the end of its turn.
void request_loop_wake() noexcept;
/// A reactor thread starts its loop: readiness on this thread is held until it ends a
/// turn (end_reactor_turn).
void begin_reactor_turns() noexcept;
/// A reactor thread ends its turn: the loop is woken now if anything became ready during
/// it, and later readiness on this thread is held until the next call (`more_turns`
/// false: the thread is exiting, wake at once from now on).
void end_reactor_turn(bool more_turns = true) noexcept;
/// A hosted turn (app_bridge::host_loop: the event loop runs on this reactor thread)
/// begins and ends: inside it, async requests are staged and readiness is noted without
/// writing the eventfd, since the loop looks right after the turn. end_hosted_turn: true
/// when something became ready (the loop wakes its producers, stream_ready(false)).
void begin_hosted_turn() noexcept;
bool end_hosted_turn() noexcept;
bool in_hosted_turn() noexcept;
/// Wake-ups of the event loop for readiness and staged requests, process-wide: eventfd
/// writes, and those a hosting loop took right after its turn (App.stats()'s loop_wakes).
extern std::atomic<uint64_t> loop_wakes_eventfd;
extern std::atomic<uint64_t> loop_wakes_after_turn;
/// How many reactor threads owe the loop a deferred wake-up (changed under the ready
/// lock; read without it: a thread always sees its own changes).
extern std::atomic<int> reactor_wakes_owed;
/// Whether end_reactor_turn has anything to do on some thread (one relaxed load).
inline bool reactor_wake_owed_somewhere() noexcept {
    return reactor_wakes_owed.load(std::memory_order_relaxed) != 0;
}
/// Drop Python references whose bytes the reactor has finished sending (GIL held).
void release_sent_objects() noexcept;
/// Whether sent output let go of Python objects that release_sent_objects has not yet
/// dropped (any thread, no GIL).
bool sent_objects_pending() noexcept;
/// Wake the event loop (when there is one) so that its thread drops them (any thread).
void wake_loop_for_sent_objects() noexcept;
/// Keep a Python object alive while its bytes are queued: released later under the GIL.
std::shared_ptr<const void> hold_python_object(PyObject* obj);
/// The Python handle (ringbolt._native.ResponseStream) for a stream. GIL held.
PyObject* new_stream_handle(std::shared_ptr<response_stream> stream);
/// The Python handle (ringbolt._native.RequestBody) for a streamed request body.
PyObject* new_body_handle(std::shared_ptr<request_body> body, const struct python_types* types);
/// Add the ResponseStream and RequestBody types to the module.
bool init_stream_type(PyObject* module);

} // namespace ringbolt::py
