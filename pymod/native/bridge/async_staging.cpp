// Async requests and their answers between the reactors and the event loop: each
// request's pending answer (a capsule), the requests staged for the loop (taken when its
// notify eventfd fires), and the answers staged on the loop and delivered once per loop
// iteration, one deliver per reactor. Everything here runs with the GIL held.
#include "pymod/native/bridge/async_staging.hpp"

#include "pymod/native/bridge/kept_list.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/bridge/result_conversion.hpp"

#include <algorithm>

namespace ringbolt::py {

namespace {
void address_response_from(const http::app_response& from, http::app_response& to) {
    to.conn_slot = from.conn_slot;
    to.conn_gen = from.conn_gen;
    to.seq = from.seq;
    to.route_id = from.route_id;
    to.start_ns = from.start_ns;
}

// An async request in flight on the asyncio runner: everything needed to answer it.
struct pending_answer {
    app_bridge* bridge;
    server::response_sink* sink;
    http::app_response address; ///< addressing fields only
    std::string method, target;
    bool head_request;
    http::peer_address peer;
    uint8_t version_minor;
    std::string request_id; ///< for the access log
    bool done = false;
};

// Pending answers of finished requests, kept for the next ones (kept_list.hpp): one malloc
// and one free per async request otherwise (at 4096 connections a batch's ~130 of them
// overflow malloc's per-size cache). The strings keep their room unless it grew past what
// a usual request needs.
void free_pending(pending_answer* p) noexcept {
    delete p;
}
constexpr size_t pending_text_kept = 256;
kept_list<pending_answer, 256, free_pending> g_pending_kept;

pending_answer* take_pending() {
    if (pending_answer* p = g_pending_kept.take(); p != nullptr) [[likely]] {
        p->done = false;
        return p;
    }
    return new pending_answer{};
}

void give_pending(pending_answer* p) noexcept {
    if (g_pending_kept.give(p)) [[likely]] {
        for (std::string* s : {&p->method, &p->target, &p->request_id}) {
            if (s->capacity() > pending_text_kept) {
                std::string().swap(*s);
            }
        }
        return;
    }
    free_pending(p);
}

constexpr const char* pending_name = "ringbolt.pending";

// Async requests handed to the event loop: the (handler, request, pending) items of the
// reactors' batches (or the handler threads'), staged here under the GIL and taken by the
// loop when the notify eventfd fires (take_async_requests). The first staging since the
// last take asks for the wake-up; on a reactor thread it is written at the end of its
// turn, so the loop is not woken in the middle of a turn that still holds the GIL.
PyObject* g_async_staged = nullptr; // a list, or null: nothing staged
} // namespace

/// Stage `items` (a list; stolen) for the loop.
void stage_for_loop(PyObject* items) {
    if (g_async_staged == nullptr) {
        g_async_staged = items;
        if (!in_hosted_turn()) { // a hosting loop takes them after the turn, unwoken
            request_loop_wake();
        }
        return;
    }
    Py_ssize_t n = PyList_GET_SIZE(g_async_staged);
    if (PyList_SetSlice(g_async_staged, n, n, items) < 0) {
        PyErr_Print(); // out of memory: the items' pending destructors answer 500
    }
    Py_DECREF(items);
}

namespace {
// Answers completed on the event loop, delivered once per loop iteration
// (flush_completions): a reactor is woken once for all of them, not once per answer.
// Guarded by the GIL. The answers and their reactors side by side: with one reactor (or
// one reactor's answers only) the answers' vector goes to it as it is, each answer moved
// once less (at 4096 connections that move wrote lines no longer in cache).
struct staged_answers {
    std::vector<server::response_sink*> sinks;
    std::vector<http::app_response> answers;
    bool empty() const noexcept { return answers.empty(); }
    void add(server::response_sink* sink, http::app_response&& m) {
        sinks.push_back(sink);
        try {
            answers.push_back(std::move(m));
        } catch (...) {
            sinks.pop_back();
            throw;
        }
    }
    void swap(staged_answers& other) noexcept {
        sinks.swap(other.sinks);
        answers.swap(other.answers);
    }
    void clear() noexcept {
        sinks.clear();
        answers.clear();
    }
};
staged_answers g_staged;

// Nonzero while the event loop starts a reactor's batch (begin_batch): the batch ends
// with a flush of its own, so staging schedules none.
unsigned g_in_batch = 0;

// The answer of `p`: `result` converted, or `exc`; or, with `parts` (result and exc
// null), what an ASGI app sent, converted already (null parts and exc: the conversion
// failed with an exception set).
void deliver_pending(pending_answer& p, PyObject* result, PyObject* exc, bool stage = false,
                     response_parts* parts = nullptr) {
    http::app_response resp;
    address_response_from(p.address, resp);
    app_bridge::answer_meta meta{p.method,        p.target,           p.head_request, &p.peer,
                                 p.version_minor, p.address.start_ns, p.request_id};
    p.done = true;
    bool whole = result != nullptr || exc != nullptr ? p.bridge->finish(result, exc, meta, resp, *p.sink)
                                                     : p.bridge->answer(parts, nullptr, meta, resp, *p.sink);
    if (whole) {
        if (stage) {
            g_staged.add(p.sink, std::move(resp));
        } else {
            deliver_now(*p.sink, std::move(resp));
        }
    }
}

void pending_destructor(PyObject* capsule) {
    auto* p = static_cast<pending_answer*>(PyCapsule_GetPointer(capsule, pending_name));
    if (p == nullptr) {
        PyErr_Clear();
        return;
    }
    if (!p->done) {
        // Never completed (the runner dropped it): the client still gets an answer.
        PyObject* err = PyObject_CallFunction(PyExc_RuntimeError, "s", "async handler was never completed");
        deliver_pending(*p, nullptr, err);
        Py_XDECREF(err);
    }
    give_pending(p);
}
} // namespace

PyObject* new_pending(app_bridge& bridge, const dispatch::app_request& req, server::response_sink& sink) {
    pending_answer* p = nullptr;
    try {
        p = take_pending();
        p->method.assign(req.method.in(req.data));
        p->target.assign(req.target.in(req.data));
        p->request_id.assign(req.request_id.in(req.data));
    } catch (const std::bad_alloc&) {
        if (p != nullptr) {
            give_pending(p);
        }
        PyErr_NoMemory();
        return nullptr;
    }
    p->bridge = &bridge;
    p->sink = &sink;
    p->head_request = req.head_request;
    p->peer = req.peer;
    p->version_minor = req.version_minor;
    address_response(req, p->address);
    PyObject* capsule = PyCapsule_New(p, pending_name, pending_destructor);
    if (capsule == nullptr) {
        p->done = true; // nothing to answer from here: the caller answers 500
        give_pending(p);
    }
    return capsule;
}

PyObject* complete_async(PyObject* capsule, PyObject* result, PyObject* exc) {
    auto* p = static_cast<pending_answer*>(PyCapsule_GetPointer(capsule, pending_name));
    if (p == nullptr) {
        return nullptr;
    }
    if (p->done) {
        PyErr_SetString(PyExc_RuntimeError, "this request was already answered");
        return nullptr;
    }
    bool first = g_staged.empty();
    deliver_pending(*p, exc == Py_None ? result : nullptr, exc == Py_None ? nullptr : exc, true);
    // The caller schedules flush_completions.
    return PyBool_FromLong(first && !g_staged.empty() && g_in_batch == 0);
}

namespace {
// The vector an ASGI answer's header pairs are converted into, kept from one answer to
// the next (GIL held; up to kept_headers_max pairs of room).
#ifndef Py_GIL_DISABLED
constexpr size_t kept_headers_max = 64;
std::vector<std::pair<std::string, std::string>> g_kept_headers;
#endif
} // namespace

int complete_asgi(PyObject* capsule, PyObject* status, PyObject* headers, PyObject* body) {
    auto* p = static_cast<pending_answer*>(PyCapsule_GetPointer(capsule, pending_name));
    if (p == nullptr) {
        return -1;
    }
    if (p->done) {
        PyErr_SetString(PyExc_RuntimeError, "this request was already answered");
        return -1;
    }
    // What convert_result does with Response(body, status, headers, content_type=""), in
    // the same order (so the same error is the one reported): no default Content-Type.
    response_parts parts;
#ifndef Py_GIL_DISABLED
    parts.headers.swap(g_kept_headers); // its room: no vector made per answer
#endif
    bool ok = convert_status(status, parts) && convert_body(body, parts, false) && convert_headers(headers, parts);
    bool first = g_staged.empty();
    deliver_pending(*p, nullptr, nullptr, true, ok ? &parts : nullptr);
#ifndef Py_GIL_DISABLED
    if (parts.headers.capacity() <= kept_headers_max) {
        parts.headers.clear();
        parts.headers.swap(g_kept_headers);
    }
#endif
    return first && !g_staged.empty() && g_in_batch == 0 ? 1 : 0;
}

void begin_batch() noexcept {
    ++g_in_batch;
}

PyObject* end_batch() {
    if (g_in_batch > 0) {
        --g_in_batch;
    }
    return flush_completions();
}

bool claim_pending(PyObject* capsule, server::response_sink*& sink, http::app_response& address) {
    auto* p = static_cast<pending_answer*>(PyCapsule_GetPointer(capsule, pending_name));
    if (p == nullptr) {
        return false;
    }
    if (p->done) {
        PyErr_SetString(PyExc_RuntimeError, "this request was already answered");
        return false;
    }
    p->done = true;
    sink = p->sink;
    address_response_from(p->address, address);
    return true;
}

void deliver_now(server::response_sink& sink, http::app_response&& m) {
    std::vector<http::app_response> one;
    one.push_back(std::move(m));
    Py_BEGIN_ALLOW_THREADS sink.deliver(one);
    Py_END_ALLOW_THREADS
}

bool stage_message(server::response_sink& sink, http::app_response&& m) {
    bool first = g_staged.empty();
    g_staged.add(&sink, std::move(m));
    return first && g_in_batch == 0;
}

namespace {
// The vectors a flush moves the answers through, kept from one flush to the next on each
// thread (the GIL is released while they are used): a loop iteration's answers (up to a
// turn's, 256) land in memory the last flush used, not in vectors grown from nothing,
// each reallocation moving every answer again into memory nothing had touched (at 4096
// connections, raw ASGI: 29 last-level misses a request in app_response's constructor,
// benchmarks/journal/2026-11-26.md). g_staged takes the kept vector's storage in the swap.
struct flush_vectors {
    staged_answers staged;
    std::vector<http::app_response> batch;
    bool in_use = false; ///< a flush runs on this thread (a nested one uses vectors of its own)
};
thread_local flush_vectors tl_flush;
} // namespace

namespace {
/// Sent from here on the thread that hosts the loop, else through the reactor's inbox.
void deliver_to(server::response_sink& sink, std::vector<http::app_response>& answers) {
    if (!sink.deliver_here(answers)) {
        sink.deliver(answers);
    }
}
} // namespace

PyObject* flush_completions() {
    if (g_staged.empty()) {
        Py_RETURN_NONE;
    }
    flush_vectors own;
    flush_vectors& v = tl_flush.in_use ? own : tl_flush;
    v.in_use = true;
    staged_answers& staged = v.staged;
    staged.swap(g_staged); // (staged was empty: g_staged keeps its capacity for the next answers)
    Py_BEGIN_ALLOW_THREADS;
    // One deliver (one lock, at most one wake-up) per reactor, answers in their order.
    std::vector<server::response_sink*>& sinks = staged.sinks;
    server::response_sink* only = sinks.front();
    bool one_sink = std::all_of(sinks.begin(), sinks.end(), [only](server::response_sink* s) { return s == only; });
    if (one_sink) {
        deliver_to(*only, staged.answers);
    } else {
        std::vector<http::app_response>& batch = v.batch;
        for (size_t i = 0; i < sinks.size(); ++i) {
            server::response_sink* sink = sinks[i];
            if (sink == nullptr) {
                continue;
            }
            batch.clear();
            for (size_t j = i; j < sinks.size(); ++j) {
                if (sinks[j] == sink) {
                    batch.push_back(std::move(staged.answers[j]));
                    sinks[j] = nullptr;
                }
            }
            deliver_to(*sink, batch);
        }
    }
    v.batch.clear();
    staged.clear(); // the answers were moved out: their shells go, the storage stays
    v.in_use = false;
    Py_END_ALLOW_THREADS;
    Py_RETURN_NONE;
}

PyObject* take_async_requests() {
    PyObject* items = g_async_staged;
    g_async_staged = nullptr;
    return items != nullptr ? items : Py_NewRef(Py_None);
}

} // namespace ringbolt::py
