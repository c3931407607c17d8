// Streamed responses: message delivery, flow control and disconnect notification
// between a Python producer and the reactor that owns the connection.
#include "pymod/native/bridge/response_stream.hpp"

#include "http/protocol.hpp"
#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/py_type.hpp"

#include "core/log.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <sys/eventfd.h>
#include <unistd.h>
#include <vector>

namespace ringbolt::py {

namespace {

constexpr size_t borrow_at_least = 16 * 1024; ///< smaller chunks are copied (coalesced)

// Python objects whose bytes were sent: Py_DECREF needs the GIL, which the reactor
// thread that finished the send does not hold.
std::mutex g_release_mutex;
std::vector<PyObject*> g_release;
std::atomic<bool> g_release_pending{false}; ///< g_release may be non-empty (checked without the lock)

// Async producers that may go on: the event loop watches g_notify_fd.
std::mutex g_ready_mutex;
std::vector<std::shared_ptr<loop_waitable>> g_ready;
int g_notify_fd = -1;

// On a reactor thread the loop is woken once per turn (end_reactor_turn), not once per
// producer that became ready: with both threads on one CPU an eventfd write in the middle
// of a turn lets the loop preempt the reactor for each WebSocket message it received.
// Both flags in one thread_local: from the extension module every thread_local access is
// a __tls_get_addr call (about 11 instructions), and end_reactor_turn runs twice a request.
struct turn_state {
    bool defer_wake = false;     ///< this thread ends its turns with end_reactor_turn
    bool wake_owed = false;      ///< a deferred wake-up is owed to the loop
    bool in_hosted_turn = false; ///< a hosted turn runs: the loop is this thread, it looks after it
    bool hosted_wake = false;    ///< such a turn made something ready (end_hosted_turn)
};
thread_local turn_state tl_turn;

} // namespace

std::atomic<uint64_t> loop_wakes_eventfd{0};
std::atomic<uint64_t> loop_wakes_after_turn{0};

namespace {

void wake_loop_locked() noexcept {
    if (g_notify_fd >= 0) {
        loop_wakes_eventfd.fetch_add(1, std::memory_order_relaxed);
        uint64_t one = 1;
        ssize_t ignored = ::write(g_notify_fd, &one, sizeof(one));
        (void)ignored;
    }
}

/// Wake the loop now, or, on a reactor thread inside its turns, once at the end of this
/// turn (end_reactor_turn). Under g_ready_mutex.
void owe_loop_wake_locked() noexcept {
    turn_state& turn = tl_turn;
    if (turn.defer_wake) {
        if (!turn.wake_owed) {
            turn.wake_owed = true;
            reactor_wakes_owed.fetch_add(1, std::memory_order_relaxed);
        }
    } else {
        wake_loop_locked();
    }
}

} // namespace

std::shared_ptr<const void> hold_python_object(PyObject* obj) {
    Py_INCREF(obj);
    return std::shared_ptr<const void>(obj, [](const void* p) {
        std::lock_guard<std::mutex> lock(g_release_mutex);
        g_release.push_back(static_cast<PyObject*>(const_cast<void*>(p)));
        g_release_pending.store(true, std::memory_order_release);
    });
}

bool sent_objects_pending() noexcept {
    return g_release_pending.load(std::memory_order_acquire);
}

void wake_loop_for_sent_objects() noexcept {
    std::lock_guard<std::mutex> lock(g_ready_mutex);
    wake_loop_locked(); // the loop's reader (watch_streams) calls stream_ready, which drops them
}

void release_sent_objects() noexcept {
    if (!g_release_pending.load(std::memory_order_acquire)) [[likely]] {
        return; // called once per batch: no lock when nothing waits
    }
    std::vector<PyObject*> done;
    {
        std::lock_guard<std::mutex> lock(g_release_mutex);
        g_release_pending.store(false, std::memory_order_relaxed);
        done.swap(g_release);
    }
    for (PyObject* o : done) {
        Py_DECREF(o);
    }
}

int stream_notify_fd() {
    std::lock_guard<std::mutex> lock(g_ready_mutex);
    if (g_notify_fd < 0) {
        g_notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    return g_notify_fd;
}

PyObject* stream_ready(bool clear_fd) {
    release_sent_objects();
    std::vector<std::shared_ptr<loop_waitable>> ready;
    {
        std::lock_guard<std::mutex> lock(g_ready_mutex);
        ready.swap(g_ready);
        uint64_t v;
        if (clear_fd && g_notify_fd >= 0) {
            ssize_t ignored = ::read(g_notify_fd, &v, sizeof(v));
            (void)ignored;
        }
    }
    PyObject* list = PyList_New(0);
    if (list == nullptr) {
        return nullptr;
    }
    for (auto& s : ready) {
        PyObject* fut;
        {
            std::lock_guard<std::mutex> lock(s->_mutex);
            fut = s->_waiter;
            s->_waiter = nullptr;
            s->_waiter_queued = false;
        }
        if (fut != nullptr) {
            PyList_Append(list, fut);
            Py_DECREF(fut);
        }
    }
    return list;
}

loop_waitable::~loop_waitable() {
    if (_waiter != nullptr) { // may run on a reactor thread: release under the GIL later
        std::lock_guard<std::mutex> lock(g_release_mutex);
        g_release.push_back(_waiter);
        g_release_pending.store(true, std::memory_order_release);
    }
}

void loop_waitable::set_waiter(PyObject* future) {
    bool ready;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        Py_XDECREF(_waiter);
        Py_INCREF(future);
        _waiter = future;
        ready = ready_now();
    }
    if (ready) {
        notify(); // became ready between the caller's check and here
    }
}

void loop_waitable::notify() noexcept {
    bool queue_async = false;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_waiting) {
            _cv.notify_all();
        }
        if (_waiter != nullptr && !_waiter_queued) {
            _waiter_queued = true;
            queue_async = true;
        }
    }
    if (queue_async) {
        std::lock_guard<std::mutex> lock(g_ready_mutex);
        bool wake = g_ready.empty();
        g_ready.push_back(shared_from_this());
        if (wake) {
            owe_loop_wake_locked();
        }
    }
}

void request_loop_wake() noexcept {
    std::lock_guard<std::mutex> lock(g_ready_mutex);
    owe_loop_wake_locked();
}

std::atomic<int> reactor_wakes_owed{0};

void begin_reactor_turns() noexcept {
    tl_turn.defer_wake = true;
}

void begin_hosted_turn() noexcept {
    tl_turn.in_hosted_turn = true;
}

bool end_hosted_turn() noexcept {
    turn_state& turn = tl_turn;
    turn.in_hosted_turn = false;
    bool owed = turn.hosted_wake;
    turn.hosted_wake = false;
    if (owed) {
        loop_wakes_after_turn.fetch_add(1, std::memory_order_relaxed);
    }
    return owed;
}

bool in_hosted_turn() noexcept {
    return tl_turn.in_hosted_turn;
}

void end_reactor_turn(bool more_turns) noexcept {
    turn_state& turn = tl_turn;
    turn.defer_wake = more_turns;
    if (turn.wake_owed) [[unlikely]] {
        std::lock_guard<std::mutex> lock(g_ready_mutex);
        turn.wake_owed = false;
        reactor_wakes_owed.fetch_sub(1, std::memory_order_relaxed);
        if (turn.in_hosted_turn) {
            turn.hosted_wake = true; // the loop is this thread: it looks right after the turn
        } else {
            wake_loop_locked();
        }
    }
}

void response_stream::deliver(http::app_response&& m) {
    m.conn_slot = _address.conn_slot;
    m.conn_gen = _address.conn_gen;
    m.seq = _address.seq;
    m.route_id = _address.route_id;
    m.start_ns = _address.start_ns;
    if (!_head_sent) {
        m.parts |= http::app_response::part_head;
        m.start = std::move(_head);
        m.stream = std::static_pointer_cast<response_stream>(shared_from_this());
        _head_sent = true;
    }
    std::vector<http::app_response> one;
    one.push_back(std::move(m));
    Py_BEGIN_ALLOW_THREADS _sink.deliver(one);
    Py_END_ALLOW_THREADS
}

int response_stream::deliver_chunk(PyObject* chunk) {
    release_sent_objects();
    if (closed() || _finished) {
        return 0;
    }
    http::app_response m;
    m.parts = http::app_response::part_body;
    const char* data;
    Py_ssize_t n;
    PyObject* owner = chunk;
    if (PyBytes_Check(chunk)) {
        data = PyBytes_AS_STRING(chunk);
        n = PyBytes_GET_SIZE(chunk);
    } else if (PyUnicode_Check(chunk)) {
        data = PyUnicode_AsUTF8AndSize(chunk, &n);
        if (data == nullptr) {
            return -1;
        }
    } else if (PyByteArray_Check(chunk) || PyMemoryView_Check(chunk)) {
        Py_buffer view;
        if (PyObject_GetBuffer(chunk, &view, PyBUF_SIMPLE) < 0) {
            return -1;
        }
        m.body.assign(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
        PyBuffer_Release(&view);
        data = nullptr;
        n = static_cast<Py_ssize_t>(m.body.size());
        owner = nullptr;
    } else {
        PyErr_Format(PyExc_TypeError, "a streamed response must yield bytes or str, not %.100s",
                     Py_TYPE(chunk)->tp_name);
        return -1;
    }
    if (n == 0) {
        return 1;
    }
    if (_declared >= 0 && _produced.load(std::memory_order_relaxed) + static_cast<uint64_t>(n) >
                              static_cast<uint64_t>(_declared)) [[unlikely]] {
        log(core::log_level::error, "streamed response for %s yields more than its Content-Length (%lld): cut short",
            _what.c_str(), static_cast<long long>(_declared));
        abort();
        return 0;
    }
    if (data != nullptr) {
        if (static_cast<size_t>(n) >= borrow_at_least && PyBytes_Check(owner)) {
            // Large bytes are sent from the Python object itself (kept alive until sent).
            m.rare().borrowed = std::string_view(data, static_cast<size_t>(n));
            m.more->keep = hold_python_object(owner);
        } else {
            m.body.assign(data, static_cast<size_t>(n));
        }
    }
    _produced.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    deliver(std::move(m));
    return closed() ? 0 : 1;
}

bool response_stream::must_wait() const noexcept {
    return !closed() && _produced.load(std::memory_order_relaxed) - _sent.load(std::memory_order_acquire) > high_water;
}

bool response_stream::wait_writable() {
    if (!must_wait()) {
        return !closed();
    }
    Py_BEGIN_ALLOW_THREADS {
        std::unique_lock<std::mutex> lock(_mutex);
        _waiting = true;
        _cv.wait(lock, [this] {
            return closed() ||
                   _produced.load(std::memory_order_relaxed) - _sent.load(std::memory_order_acquire) <= high_water / 2;
        });
        _waiting = false;
    }
    Py_END_ALLOW_THREADS return !closed();
}

bool response_stream::ready_now() const noexcept {
    return closed() ||
           _produced.load(std::memory_order_relaxed) - _sent.load(std::memory_order_acquire) <= high_water / 2;
}

void response_stream::end() {
    if (_finished || closed()) {
        _finished = true;
        return;
    }
    if (_declared >= 0 && _produced.load(std::memory_order_relaxed) != static_cast<uint64_t>(_declared)) [[unlikely]] {
        log(core::log_level::error,
            "streamed response for %s ended after %llu bytes, its Content-Length says %lld: cut short", _what.c_str(),
            static_cast<unsigned long long>(_produced.load(std::memory_order_relaxed)),
            static_cast<long long>(_declared));
        abort();
        return;
    }
    _finished = true;
    http::app_response m;
    m.parts = http::app_response::part_end;
    deliver(std::move(m));
}

void response_stream::end_without_body() {
    _declared = -1;
    end();
}

void response_stream::abort() {
    if (_finished) {
        return;
    }
    _finished = true;
    if (closed()) {
        return;
    }
    http::app_response m;
    m.parts = http::app_response::part_abort;
    if (!_head_sent) {
        // Failed before the first chunk: nothing was sent, so the client can still get a
        // clean 500 instead of a broken stream.
        internal_error_answer(m);
        _head = std::move(m.start);
        m.parts = http::app_response::part_body | http::app_response::part_end;
    }
    deliver(std::move(m));
}

void response_stream::on_sent(size_t bytes) noexcept {
    uint64_t sent = _sent.fetch_add(bytes, std::memory_order_acq_rel) + bytes;
    if (_produced.load(std::memory_order_relaxed) - sent <= high_water / 2) {
        notify();
    }
}

void response_stream::on_closed() noexcept {
    _closed.store(true, std::memory_order_release);
    notify();
}

// ---- request_body ----

namespace {

// Blocks of finished request bodies, kept for the next ones (at most block_pool_max:
// 4 MiB), so a server that takes uploads one after the other allocates none.
constexpr size_t block_pool_max = (size_t{4} << 20) / request_body::max_chunk;
std::mutex& block_pool_mutex = *new std::mutex;
// Under block_pool_mutex. Never destroyed: a body may end after static destructors ran
// (a thread still going at exit).
std::vector<std::unique_ptr<char[]>>& block_pool = *new std::vector<std::unique_ptr<char[]>>;

void pool_block(std::unique_ptr<char[]>& data) {
    if (data && block_pool.size() < block_pool_max) {
        block_pool.push_back(std::move(data));
    }
}

// The same for bytes-object blocks a body made and did not hand over (its spares, or what
// an app that stopped reading left): kept with their one reference, no Python code has
// seen them, so no GIL is needed to keep them. Freed instead, each body's spares went
// back to glibc, which trims the heap's top, and the next body faulted them in again.
std::vector<PyObject*>& object_pool = *new std::vector<PyObject*>; // under block_pool_mutex

void pool_object(PyObject*& obj) {
    if (obj != nullptr && object_pool.size() < block_pool_max) {
        object_pool.push_back(obj);
        obj = nullptr;
    }
}

} // namespace

request_body::request_body(server::response_sink& sink, uint32_t slot, uint32_t gen, uint64_t seq)
    : _sink(sink), _slot(slot), _gen(gen), _seq(seq) {}

request_body::~request_body() {
    if (_blocks.empty() && _spare.empty() && _object_spare.empty() && !_writing.data && _writing.obj == nullptr)
        [[likely]] {
        return; // a watch (or a body that held no block): nothing for the pools, no lock
    }
    std::lock_guard<std::mutex> lock(block_pool_mutex);
    try {
        for (block& b : _spare) {
            pool_block(b.data);
        }
        for (block& b : _object_spare) {
            pool_object(b.obj);
        }
        for (block& b : _blocks) { // a body the app did not read to its end
            pool_block(b.data);
            pool_object(b.obj);
        }
        pool_block(_writing.data);
        pool_object(_writing.obj);
    } catch (const std::bad_alloc&) {
        // not kept
    }
}

void request_body::block::drop_object() noexcept {
    if (obj != nullptr) {
        std::lock_guard<std::mutex> lock(g_release_mutex);
        try {
            g_release.push_back(obj);
            g_release_pending.store(true, std::memory_order_release);
        } catch (const std::bad_alloc&) {
            // leaked rather than released without the GIL
        }
        obj = nullptr;
    }
}

PyObject* request_body::block::take_object() noexcept {
    PyObject* o = std::exchange(obj, nullptr);
    // Never seen by Python: one reference, so it may shrink in place (a heap block: no copy).
    if (static_cast<size_t>(PyBytes_GET_SIZE(o)) != size && _PyBytes_Resize(&o, static_cast<Py_ssize_t>(size)) < 0) {
        return nullptr;
    }
    size = 0;
    return o;
}

void request_body::make_object_blocks() {
    while (_object_blocks < object_blocks_target) {
        PyObject* o = nullptr;
        {
            std::lock_guard<std::mutex> lock(block_pool_mutex);
            if (!object_pool.empty()) {
                o = object_pool.back();
                object_pool.pop_back();
            }
        }
        if (o == nullptr) {
            o = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(max_chunk));
        }
        if (o == nullptr) {
            PyErr_Clear(); // plain blocks serve (one copy more)
            return;
        }
        block b;
        b.obj = o;
        ++_object_blocks;
        std::lock_guard<std::mutex> lock(_mutex);
        _object_spare.push_back(std::move(b));
    }
}

request_body::block request_body::new_block() {
    block b;
    if (!_object_spare.empty()) {
        b = std::move(_object_spare.back());
        _object_spare.pop_back();
        return b;
    }
    if (!_spare.empty()) {
        b.data = std::move(_spare.back().data);
        _spare.pop_back();
        return b;
    }
    {
        std::lock_guard<std::mutex> lock(block_pool_mutex);
        if (!block_pool.empty()) {
            b.data = std::move(block_pool.back());
            block_pool.pop_back();
            return b;
        }
    }
    b.data.reset(new char[max_chunk]); // (uninitialized)
    return b;
}

void request_body::push(std::string_view bytes) noexcept {
    if (bytes.empty()) {
        return;
    }
    const size_t total = bytes.size();
    {
        // Counted with the bytes, under the lock: take() must never count bytes taken
        // before they are counted pushed (unconsumed() would wrap and the credit be lost).
        std::lock_guard<std::mutex> lock(_mutex);
        while (!bytes.empty()) {
            if (_blocks.empty() || _blocks.back().size >= max_chunk) {
                _blocks.push_back(new_block());
            }
            block& b = _blocks.back();
            size_t n = std::min(bytes.size(), max_chunk - b.size);
            std::memcpy(b.bytes() + b.size, bytes.data(), n);
            b.size += n;
            bytes.remove_prefix(n);
        }
        _pushed.fetch_add(total, std::memory_order_release);
    }
    notify();
}

std::span<char> request_body::write_space(uint64_t max) noexcept {
    // Lent again until commit (a read that found the socket empty, then the receive armed
    // after it): the same block, whichever kind it is. Taken anew for a bytes-object block
    // (no `data`), the object was let go unfilled and the body fell back to plain blocks.
    if (!_writing.data && _writing.obj == nullptr) {
        std::lock_guard<std::mutex> lock(_mutex);
        _writing = new_block();
    }
    return {_writing.bytes(), static_cast<size_t>(std::min<uint64_t>(max, max_chunk))};
}

void request_body::commit(size_t n) noexcept {
    if (n == 0) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _writing.size = n;
        _blocks.push_back(std::move(_writing));
        _writing = block{};
        _pushed.fetch_add(n, std::memory_order_release);
    }
    notify();
}

void request_body::finish() noexcept {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _finished = true;
    }
    notify();
}

void request_body::fail(http::body_error why) noexcept {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_finished || _failed) {
            return;
        }
        _failed = true;
        _why = why;
    }
    notify();
}

uint64_t request_body::unconsumed() const noexcept {
    return _pushed.load(std::memory_order_acquire) - _taken.load(std::memory_order_acquire);
}

bool request_body::ready_now() const noexcept {
    return !_blocks.empty() || _finished || _failed;
}

void request_body::send_credit() {
    http::app_response m;
    m.conn_slot = _slot;
    m.conn_gen = _gen;
    m.seq = _seq;
    m.parts = http::app_response::part_read_more;
    std::vector<http::app_response> one;
    one.push_back(std::move(m));
    Py_BEGIN_ALLOW_THREADS _sink.deliver(one);
    Py_END_ALLOW_THREADS
}

bool request_body::wait_ready(double timeout_s) {
    bool ready;
    Py_BEGIN_ALLOW_THREADS {
        std::unique_lock<std::mutex> lock(_mutex);
        _waiting = true;
        ready = _cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [this] { return ready_now(); });
        _waiting = false;
    }
    Py_END_ALLOW_THREADS return ready;
}

PyObject* request_body::take(const python_types& types) {
    release_sent_objects();
    block b;
    bool finished;
    bool failed;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        // The first block: what has arrived, up to max_chunk bytes (a recv's worth per
        // Python iteration would cost more than the data).
        if (!_blocks.empty()) {
            b = std::move(_blocks.front());
            _blocks.pop_front();
        }
        finished = _finished;
        failed = _failed;
    }
    size_t n = b.size;
    bool have = n > 0;
    // Credit: the first read (the app wants the body: 100 Continue), and whenever what
    // is unconsumed falls below half the window the protocol lets wait (body_credit_due).
    uint64_t before = unconsumed();
    if (have) {
        _taken.fetch_add(n, std::memory_order_release);
    }
    if (http::body_credit_due(!_asked, before, unconsumed(), http::connection_limits{}.body_window)) {
        _asked = true;
        if (!finished && !failed) {
            send_credit();
        }
    }
    if (have) {
        PyObject* chunk;
        if (b.obj != nullptr) {
            chunk = b.take_object(); // the reactor filled this object: handed over as it is
            --_object_blocks;
        } else {
            chunk = PyBytes_FromStringAndSize(b.data.get(), static_cast<Py_ssize_t>(n));
            b.size = 0;
            std::lock_guard<std::mutex> lock(_mutex);
            _spare.push_back(std::move(b)); // refilled by the next push
        }
        if (chunk != nullptr && !finished && !failed) {
            make_object_blocks(); // for the blocks to come
        }
        return chunk;
    }
    if (failed) {
        int status = 400;
        const char* detail = "client disconnected";
        switch (_why) {
        case http::body_error::too_large:
            status = 413;
            detail = "request body too large";
            break;
        case http::body_error::timeout:
            status = 408;
            detail = "request body timed out (too slow)";
            break;
        case http::body_error::malformed:
            status = 400;
            detail = "malformed chunked request body";
            break;
        case http::body_error::disconnect:
            break;
        }
        PyObject* type = _why == http::body_error::disconnect && types.client_disconnect != nullptr
                             ? types.client_disconnect
                             : types.http_error;
        PyObject* exc = type != nullptr ? PyObject_CallFunction(type, "is", status, detail) : nullptr;
        if (exc != nullptr) {
            PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc);
            Py_DECREF(exc);
        } else if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ConnectionError, detail);
        }
        return nullptr;
    }
    if (finished) {
        return PyBytes_FromStringAndSize("", 0);
    }
    Py_RETURN_NONE;
}

} // namespace ringbolt::py

// ---- ringbolt._native.ResponseStream: the Python handle a producer drives ----
namespace ringbolt::py {

namespace {

struct stream_handle_object {
    PyObject_HEAD std::shared_ptr<response_stream>* stream;
};

void handle_dealloc(PyObject* self) {
    auto* h = reinterpret_cast<stream_handle_object*>(self);
    if (h->stream != nullptr) {
        (*h->stream)->abort(); // a producer that vanished without end(): the client can tell
        delete h->stream;
    }
    Py_TYPE(self)->tp_free(self);
}

response_stream& stream_of(PyObject* self) {
    return **reinterpret_cast<stream_handle_object*>(self)->stream;
}

// send(chunk) -> bool: deliver, then wait (GIL released) while over the high-water
// mark. False once the client is gone. For producers on threads.
PyObject* handle_send(PyObject* self, PyObject* chunk) {
    response_stream& s = stream_of(self);
    int rc = s.deliver_chunk(chunk);
    if (rc < 0) {
        return nullptr;
    }
    if (rc == 0 || !s.wait_writable()) {
        Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

// send_nowait(chunk) -> int: 0 delivered, 1 delivered but over the mark (await a
// waiter before the next chunk), -1 the client is gone. For producers on the loop.
PyObject* handle_send_nowait(PyObject* self, PyObject* chunk) {
    response_stream& s = stream_of(self);
    int rc = s.deliver_chunk(chunk);
    if (rc < 0) {
        return nullptr;
    }
    if (rc == 0) {
        return PyLong_FromLong(-1);
    }
    return PyLong_FromLong(s.must_wait() ? 1 : 0);
}

PyObject* handle_set_waiter(PyObject* self, PyObject* future) {
    stream_of(self).set_waiter(future);
    Py_RETURN_NONE;
}

PyObject* handle_end(PyObject* self, PyObject*) {
    stream_of(self).end();
    Py_RETURN_NONE;
}

PyObject* handle_abort(PyObject* self, PyObject*) {
    stream_of(self).abort();
    Py_RETURN_NONE;
}

PyObject* handle_closed(PyObject* self, void*) {
    return PyBool_FromLong(stream_of(self).closed());
}

PyMethodDef handle_methods[] = {
    {"send", handle_send, METH_O, "Send a chunk; wait while the client is behind. False once it is gone."},
    {"send_nowait", handle_send_nowait, METH_O, "Send a chunk: 0 ok, 1 over the mark (await a waiter), -1 gone."},
    {"set_waiter", handle_set_waiter, METH_O, "A future resolved (via stream_ready) once writable or closed."},
    {"end", handle_end, METH_NOARGS, "The body is complete."},
    {"abort", handle_abort, METH_NOARGS, "The producer failed: end the response so the client can tell."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef handle_getset[] = {
    {"closed", handle_closed, nullptr, "The client is gone (or the response ended).", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject handle_type = native_type({
    .name = "ringbolt._native.ResponseStream",
    .basicsize = sizeof(stream_handle_object),
    .doc = "The producer side of a streamed response (created by the server).",
    .dealloc = handle_dealloc,
    .methods = handle_methods,
    .getset = handle_getset,
});

struct body_handle_object {
    PyObject_HEAD std::shared_ptr<request_body>* body;
    const python_types* types;
};

void body_dealloc(PyObject* self) {
    delete reinterpret_cast<body_handle_object*>(self)->body;
    Py_TYPE(self)->tp_free(self);
}

PyObject* body_take(PyObject* self, PyObject*) {
    auto* h = reinterpret_cast<body_handle_object*>(self);
    return (*h->body)->take(*h->types);
}

PyObject* body_wait(PyObject* self, PyObject* timeout) {
    double t = PyFloat_AsDouble(timeout);
    if (t == -1.0 && PyErr_Occurred()) {
        return nullptr;
    }
    return PyBool_FromLong((*reinterpret_cast<body_handle_object*>(self)->body)->wait_ready(t < 0 ? 0 : t));
}

PyObject* body_set_waiter(PyObject* self, PyObject* future) {
    (*reinterpret_cast<body_handle_object*>(self)->body)->set_waiter(future);
    Py_RETURN_NONE;
}

PyMethodDef body_methods[] = {
    {"take", body_take, METH_NOARGS, "Next chunk (bytes), b'' at the end, None when nothing arrived yet."},
    {"set_waiter", body_set_waiter, METH_O, "A future resolved (via stream_ready) once take() has something."},
    {"wait", body_wait, METH_O, "Block (GIL released) up to `timeout` s until take() has something; True if so."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject body_type = native_type({
    .name = "ringbolt._native.RequestBody",
    .basicsize = sizeof(body_handle_object),
    .doc = "A request body streamed to the application as it arrives (created by the server).",
    .dealloc = body_dealloc,
    .methods = body_methods,
});

} // namespace

bool init_stream_type(PyObject* module) {
    return ready_native_type(handle_type, module, "ResponseStream") &&
           ready_native_type(body_type, module, "RequestBody");
}

PyObject* new_body_handle(std::shared_ptr<request_body> body, const python_types* types) {
    auto* h = PyObject_New(body_handle_object, &body_type);
    if (h == nullptr) {
        return nullptr;
    }
    h->body = new std::shared_ptr<request_body>(std::move(body));
    h->types = types;
    return reinterpret_cast<PyObject*>(h);
}

PyObject* new_stream_handle(std::shared_ptr<response_stream> stream) {
    auto* h = PyObject_New(stream_handle_object, &handle_type);
    if (h == nullptr) {
        return nullptr;
    }
    h->stream = new std::shared_ptr<response_stream>(std::move(stream));
    return reinterpret_cast<PyObject*>(h);
}

} // namespace ringbolt::py
