// A streamed response's producer side: a Python iterator (on a thread) or async
// iterator (on the event loop) hands chunks to a response_stream, which delivers them
// to the reactor as messages and applies the connection's backpressure: a producer
// waits while too much of what it produced is unsent, and learns when the client is
// gone. The reactor reports progress through the stream_control interface.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "http/app_request.hpp"
#include "uring/reactor.hpp"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ringbolt::py {

class response_stream final : public http::stream_control, public std::enable_shared_from_this<response_stream> {
  public:
    /// Unsent bytes above which a producer waits (resumes below half).
    static constexpr uint64_t high_water = 1u << 20;

    response_stream(uring::response_sink& sink, const http::app_response& address, http::response_head head)
        : _sink(sink), _head(std::move(head)) {
        _address.conn_slot = address.conn_slot;
        _address.conn_gen = address.conn_gen;
        _address.seq = address.seq;
        _address.route_id = address.route_id;
        _address.start_ns = address.start_ns;
    }
    ~response_stream() override;

    // Producer side. GIL held on entry.
    /// Deliver a chunk (bytes or str). 1: delivered; 0: the client is gone; -1: a Python
    /// error is set (not bytes/str).
    int deliver_chunk(PyObject* chunk);
    /// Wait (GIL released) until below the low-water mark or closed. False when closed.
    bool wait_writable();
    /// Over the high-water mark now (an async producer then awaits a waiter).
    bool must_wait() const noexcept;
    /// Register a future (GIL held) that stream_ready() returns once writable or closed.
    void set_waiter(PyObject* future);
    void end();
    void abort();
    bool closed() const noexcept { return _closed.load(std::memory_order_acquire); }

    // Reactor side (stream_control).
    void on_sent(size_t bytes) noexcept override;
    void on_closed() noexcept override;

  private:
    friend PyObject* stream_ready();
    void deliver(http::app_response&& m);
    void notify() noexcept;

    uring::response_sink& _sink;
    http::app_response _address; ///< slot, gen, seq, route id, start time
    http::response_head _head;
    bool _head_sent = false;
    bool _finished = false;
    std::atomic<uint64_t> _produced{0};
    std::atomic<uint64_t> _sent{0};
    std::atomic<bool> _closed{false};
    std::mutex _mutex;
    std::condition_variable _cv;
    bool _waiting = false;       ///< a sync producer waits on _cv
    PyObject* _waiter = nullptr; ///< an async producer's future (GIL-guarded)
    bool _waiter_queued = false; ///< in the ready list already
};

/// The eventfd an event loop watches for stream readiness (created on first use).
int stream_notify_fd();
/// Futures of async producers that may go on (GIL held); clears the eventfd.
PyObject* stream_ready();
/// Drop Python references whose bytes the reactor has finished sending (GIL held).
void release_sent_objects() noexcept;
/// Keep a Python object alive while its bytes are queued: released later under the GIL.
std::shared_ptr<const void> hold_python_object(PyObject* obj);
/// The Python handle (ringbolt._native.ResponseStream) for a stream. GIL held.
PyObject* new_stream_handle(std::shared_ptr<response_stream> stream);
/// Add the ResponseStream type to the module.
bool init_stream_type(PyObject* module);

} // namespace ringbolt::py
