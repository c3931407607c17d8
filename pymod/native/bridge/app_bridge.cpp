// Runs a reactor's batch: the GIL is taken once per batch with the reactor's own
// PyThreadState; each sync handler is called with vectorcall and its result answered
// (answer.cpp); each async one is staged for the event loop (async_staging.cpp). The
// rest of app_bridge is in result_conversion.cpp, answer.cpp, async_staging.cpp,
// hosted_loop.cpp and handler_pool.cpp.
#include "pymod/native/bridge/app_bridge.hpp"

#include "core/clock.hpp"
#include "core/probes.hpp"
#include "pymod/native/bridge/async_staging.hpp"
#include "pymod/native/bridge/kept_list.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/wsgi/wsgi_call.hpp"

#include <memory>
#include <new>
#include <string_view>
#include <vector>

namespace ringbolt::py {

app_bridge::~app_bridge() {
    Py_XDECREF(_json_default);
    Py_XDECREF(_runner);
    for (auto& h : _handlers) {
        Py_XDECREF(h.callable);
        Py_XDECREF(h.param_names);
    }
}

uint32_t app_bridge::add_handler(PyObject* callable, PyObject* param_names, bool is_coroutine) {
    Py_INCREF(callable);
    Py_INCREF(param_names);
    _handlers.push_back({callable, param_names, is_coroutine, is_wsgi_call(callable)});
    return static_cast<uint32_t>(_handlers.size() - 1);
}

void app_bridge::prepare(unsigned reactors) {
    _interp = PyThreadState_Get()->interp;
    _thread_states.assign(reactors + 1, nullptr);
    _turn_holds_gil.assign(reactors + 1, 0);
}

void app_bridge::set_json_default(PyObject* fn) {
    Py_XINCREF(fn);
    Py_XDECREF(_json_default);
    _json_default = fn;
}

void app_bridge::set_async_runner(PyObject* runner) {
    _async_runner = runner != nullptr && runner != Py_None;
    Py_XSETREF(_runner, _async_runner ? Py_NewRef(runner) : nullptr);
}

namespace {
app_bridge::answer_meta meta_of(const dispatch::app_request& req) {
    return {req.method.in(req.data),    req.target.in(req.data),
            req.head_request,           &req.peer,
            req.version_minor,          req.start_ns,
            req.request_id.in(req.data)};
}
} // namespace

void app_bridge::run_one(dispatch::app_request& req, std::vector<http::app_response>& answers,
                         server::response_sink& later) {
    // The answer is built in place (no move of the message into the vector); nothing
    // else appends to `answers` while the handler runs (it is this thread's).
    http::app_response& resp = answers.emplace_back();
    address_response(req, resp);
    const handler_entry& h = _handlers[req.handler];
    if (h.wsgi) {
        // A mounted WSGI app (wsgi_call.cpp): it reads the request natively; no Request
        // view, and no cookies or background tasks to apply to its answer.
        RB_PROBE2(handler_dispatched, req.conn_slot, req.seq);
        PyObject* result = run_wsgi_call(h.callable, req, h.param_names, &_types);
        if (!finish_wsgi(result, meta_of(req), resp, later)) [[unlikely]] {
            answers.pop_back(); // a stream: its head went to `later` on its own
        }
        Py_XDECREF(result);
        return;
    }
    request_object* obj = new_request(&req, h.param_names, &_types);
    if (obj == nullptr) {
        PyErr_Clear();
        internal_error_answer(resp);
        return;
    }
    PyObject* arg = reinterpret_cast<PyObject*>(obj);
    RB_PROBE2(handler_dispatched, req.conn_slot, req.seq);
    PyObject* result = PyObject_Vectorcall(h.callable, &arg, 1, nullptr);
    if (result != nullptr && !result_is_final(obj, result)) {
        PyObject* final = finish_result(obj, result); // cookies/background/forms: usually `result` itself
        Py_DECREF(result);
        result = final;
    }
    if (!finish(result, nullptr, meta_of(req), resp, later)) [[unlikely]] {
        answers.pop_back(); // a stream: its head went to `later` on its own
    }
    Py_XDECREF(result);
    release_request(obj);
}

namespace {
#if PY_VERSION_HEX < 0x030C0000
// CPython 3.11's _asyncio keeps the running loop in a holder object in the thread state's
// dict (Modules/_asynciomodule.c: PyRunningLoopHolder) and caches that holder: its setter
// makes a new holder and calls getpid() for it, its getter calls getpid() too, a system
// call each (three a batch). The loop is set aside in the holder itself instead: its loop
// swapped for None and back, which the getter's cache and its dict look-up both see. The
// type is checked by name and size first; anything else takes the calls. (3.12+ keep the
// loop itself in the dict, no getpid: they take the calls.)
struct running_loop_holder {
    PyObject_HEAD PyObject* rl_loop;
    pid_t rl_pid;
};

/// The thread's running-loop holder (borrowed), null when there is none or it is not the
/// expected type (an error is cleared: the calls are the fallback).
running_loop_holder* thread_loop_holder() {
    static PyObject* key = PyUnicode_InternFromString("__asyncio_running_event_loop__");
    static PyTypeObject* holder_type = nullptr; // checked once
    PyObject* dict = key != nullptr ? PyThreadState_GetDict() : nullptr;
    PyObject* h = dict != nullptr ? PyDict_GetItemWithError(dict, key) : nullptr;
    if (h == nullptr) {
        PyErr_Clear();
        return nullptr;
    }
    if (Py_TYPE(h) != holder_type) [[unlikely]] {
        if (holder_type != nullptr || Py_TYPE(h)->tp_basicsize != sizeof(running_loop_holder) ||
            std::string_view(Py_TYPE(h)->tp_name) != "_RunningLoopHolder") {
            return nullptr;
        }
        holder_type = Py_TYPE(h);
    }
    return reinterpret_cast<running_loop_holder*>(h);
}
#endif

// On a reactor thread that hosts the event loop, sync handlers run with no running loop
// there (as on any other reactor): one may call asyncio.run, or check for a loop as
// Django's async-unsafe guard does. Set aside before the batch's first sync handler and
// put back after its last, only in batches that have one.
class running_loop_aside {
  public:
    ~running_loop_aside() {
        if (!_aside) {
            return;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (_holder != nullptr) {
            running_loop_holder* h = thread_loop_holder();
            bool same = h == _holder && h->rl_loop == Py_None;
            if (same) {
                h->rl_loop = _loop; // its reference goes back to the holder
                Py_DECREF(Py_None);
            }
            Py_DECREF(reinterpret_cast<PyObject*>(_holder));
            if (same) {
                return;
            }
            // A handler set a loop of its own (asyncio.run) and cleared it: a new holder
            // is there now; the loop is set again the usual way.
            if (!load()) {
                Py_DECREF(_loop);
                return;
            }
        }
#endif
        PyObject* r = PyObject_CallOneArg(_set, _loop);
        Py_XDECREF(r);
        if (r == nullptr) {
            PyErr_WriteUnraisable(_set);
        }
        Py_DECREF(_loop);
    }
    /// Before a sync handler: the first time in a batch of a hosted turn, set aside.
    void before_sync_handler() {
        if (_checked) {
            return;
        }
        _checked = true;
        if (!in_hosted_turn()) {
            return;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (running_loop_holder* h = thread_loop_holder(); h != nullptr) {
            if (h->rl_loop != Py_None) {
                _holder = h;
                Py_INCREF(reinterpret_cast<PyObject*>(h)); // kept even if a handler replaces it
                _loop = h->rl_loop;                        // the holder's reference, now ours
                h->rl_loop = Py_NewRef(Py_None);
                _aside = true;
            }
            return;
        }
#endif
        if (!load()) {
            return;
        }
        PyObject* loop = PyObject_CallNoArgs(_get);
        PyObject* r = loop != nullptr && loop != Py_None ? PyObject_CallOneArg(_set, Py_None) : nullptr;
        if (r == nullptr) {
            if (PyErr_Occurred()) {
                PyErr_WriteUnraisable(_set);
            }
            Py_XDECREF(loop);
            return;
        }
        Py_DECREF(r);
        _loop = loop;
        _aside = true;
    }

  private:
    static bool load() {
        if (_set == nullptr) {
            PyObject* mod = PyImport_ImportModule("_asyncio");
            _get = mod != nullptr ? PyObject_GetAttrString(mod, "_get_running_loop") : nullptr;
            _set = _get != nullptr ? PyObject_GetAttrString(mod, "_set_running_loop") : nullptr;
            Py_XDECREF(mod);
            if (_set == nullptr) {
                PyErr_WriteUnraisable(nullptr);
                Py_CLEAR(_get);
                return false;
            }
        }
        return true;
    }
    static inline PyObject* _get = nullptr; // process-wide, never released (module functions)
    static inline PyObject* _set = nullptr;
    PyObject* _loop = nullptr;
#if PY_VERSION_HEX < 0x030C0000
    running_loop_holder* _holder = nullptr; ///< set aside in this holder (a reference)
#endif
    bool _aside = false;
    bool _checked = false;
};
} // namespace

void app_bridge::run_batch(std::span<dispatch::app_request> batch, std::vector<http::app_response>& answers,
                           server::response_sink& later) {
    release_sent_objects();
    // The async requests' list is made at its size: grown by appends, a batch's ~130
    // items cost a chain of reallocs copying the list again each time (4096
    // connections, raw ASGI: 1.3% of the server's samples, benchmarks/journal/2026-11-26.md).
    Py_ssize_t async_count = 0;
    if (_async_runner) {
        for (const dispatch::app_request& req : batch) {
            async_count += _handlers[req.handler].is_coroutine ? 1 : 0;
        }
    }
    PyObject* async_items = nullptr;
    Py_ssize_t async_filled = 0;
    running_loop_aside aside;
    for (dispatch::app_request& req : batch) {
        const handler_entry& h = _handlers[req.handler];
        if (!h.is_coroutine || !_async_runner) [[likely]] {
            aside.before_sync_handler();
            run_one(req, answers, later);
            continue;
        }
        // async def: hand (handler, request, pending) over to the asyncio runner.
        PyObject* capsule = new_pending(*this, req, later);
        request_object* obj = capsule != nullptr ? new_request(&req, h.param_names, &_types) : nullptr;
        if (obj != nullptr) {
            detach_request(obj); // it outlives this batch
        }
        if (async_items == nullptr) {
            async_items = PyList_New(async_count); // slots filled in order below
        }
        PyObject* item =
            obj != nullptr ? PyTuple_Pack(3, h.callable, reinterpret_cast<PyObject*>(obj), capsule) : nullptr;
        if (item != nullptr && async_items != nullptr) {
            PyList_SET_ITEM(async_items, async_filled++, item);
        } else {
            Py_XDECREF(item);
            PyErr_Clear(); // the capsule's destructor answers 500
        }
        Py_XDECREF(reinterpret_cast<PyObject*>(obj));
        if (capsule == nullptr) {
            PyErr_Clear();
            http::app_response& resp = answers.emplace_back();
            address_response(req, resp);
            internal_error_answer(resp);
        } else {
            Py_DECREF(capsule);
        }
    }
    if (async_items != nullptr) {
        // Slots left unfilled (an item that could not be made) go before the loop sees the list.
        if (async_filled < async_count && PyList_SetSlice(async_items, async_filled, async_count, nullptr) < 0) {
            PyErr_Clear();
            Py_CLEAR(async_items); // the items' pending destructors answer 500
        }
        if (async_items != nullptr) {
            stage_for_loop(async_items); // one hand-over per batch
        }
    }
}

uint64_t app_bridge::handle_batch(unsigned reactor_index, std::span<dispatch::app_request> batch,
                                  std::vector<http::app_response>& responses, server::response_sink& later) noexcept {
    if (_turn_holds_gil[reactor_index] != 0) {
        run_batch(batch, responses, later); // a hosted turn: the GIL is this thread's already
        return 0;
    }
    PyThreadState*& ts = _thread_states[reactor_index];
    if (ts == nullptr) {
        ts = PyThreadState_New(_interp);
    }
    uint64_t t0 = core::monotonic_ns();
    PyEval_RestoreThread(ts);
    uint64_t waited = core::monotonic_ns() - t0;
    run_batch(batch, responses, later);
    PyEval_SaveThread();
    return waited;
}

void app_bridge::on_second(unsigned slot) noexcept {
    if (!sent_objects_pending()) [[likely]] {
        return;
    }
    if (_turn_holds_gil[slot] != 0) {
        release_sent_objects();
        return;
    }
    // Not taken here: a handler on another reactor may hold the GIL for seconds, and this
    // reactor goes on serving meanwhile (test_health.py, probes while Python holds the
    // GIL). The event loop's thread drops them when woken; without a loop, the next batch.
    wake_loop_for_sent_objects();
}

namespace {
// The memory of request bodies (a request_body and its shared counts, one block), kept
// per thread for the next ones (core/kept_stack.hpp, a thread's own, no GIL): every ASGI
// request makes one as its disconnect watch (dispatcher.cpp), a malloc on the reactor and
// a free where its last owner lets it go. A block goes to the list of the thread that
// frees it; with the hosted loop that is the reactor's, which makes the next ones. The
// list is released when its thread ends (armed by the first block kept); a block freed
// later on that thread is freed at once.
void free_body_block(void* b) noexcept {
    ::operator delete(b);
}
struct body_blocks {
    core::kept_stack<void*, 256> kept;
    bool armed = false; ///< the thread's exit releases `kept`
};
constinit thread_local body_blocks t_body_blocks;
void release_body_blocks_at_exit() noexcept {
    t_body_blocks.kept.release(free_body_block);
}

// allocate_shared's allocator for request_body: its one block (n == 1) from the kept list.
// All blocks in the list are of one size: the one type allocate_shared rebinds it to.
template <class T> struct body_block_allocator {
    using value_type = T;
    body_block_allocator() noexcept = default;
    template <class U> body_block_allocator(const body_block_allocator<U>&) noexcept {}
    T* allocate(size_t n) {
        if (n == 1) [[likely]] {
            if (void* b = nullptr; t_body_blocks.kept.take(b)) [[likely]] {
                return static_cast<T*>(b);
            }
        }
        return static_cast<T*>(::operator new(n * sizeof(T)));
    }
    void deallocate(T* p, size_t n) noexcept {
        if (void* b = p; n == 1 && t_body_blocks.kept.give(b)) [[likely]] {
            core::release_at_thread_exit<release_body_blocks_at_exit>(t_body_blocks.armed); // its end frees the list
            return;
        }
        free_body_block(p);
    }
    friend bool operator==(const body_block_allocator&, const body_block_allocator&) noexcept { return true; }
};
} // namespace

std::shared_ptr<http::body_stream> app_bridge::make_body_stream(server::response_sink& sink, uint32_t slot,
                                                                uint32_t gen, uint64_t seq) noexcept {
    return std::allocate_shared<request_body>(body_block_allocator<request_body>(), sink, slot, gen, seq);
}

} // namespace ringbolt::py
