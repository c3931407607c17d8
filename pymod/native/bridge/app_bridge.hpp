// The bridge between reactors and Python: registered handlers, the conversion of a
// handler's return value into a response message (head fields checked against the
// server's framing rules; streamed and file bodies handed to their producers), and
// handle_batch, which takes the GIL once per batch (per-thread PyThreadState, no
// PyGILState churn) and runs the batch.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "core/ring_fifo.hpp"
#include "dispatch/app_routes.hpp"
#include "http/problem.hpp"
#include "server/reactor.hpp"

#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace ringbolt::py {

/// Python classes defined in the ringbolt package that native code creates or checks.
struct python_types {
    PyObject* response = nullptr;     ///< ringbolt.Response
    PyObject* http_error = nullptr;   ///< ringbolt.HTTPError
    PyObject* bad_request = nullptr;  ///< ringbolt.BadRequest
    PyObject* headers = nullptr;      ///< ringbolt.Headers(list of (name, value))
    PyObject* query_params = nullptr; ///< ringbolt.QueryParams(list of (name, value))
    /// Where a QueryParams keeps its `_items` slot (a dict subclass: the request's query
    /// is built straight into it, no __init__ call); -1 when it is not that class.
    Py_ssize_t query_items_offset = -1;
    PyObject* log_exception = nullptr;      ///< callable(exc, method, path)
    PyObject* streaming_response = nullptr; ///< ringbolt.StreamingResponse
    PyObject* file_response = nullptr;      ///< ringbolt.FileResponse
    PyObject* start_stream = nullptr;       ///< callable(stream_handle, content): runs the producer
    PyObject* client_disconnect = nullptr;  ///< ringbolt.ClientDisconnect
    PyObject* request_stream = nullptr;     ///< callable(request) -> async iterator over the body
    PyObject* request_read = nullptr;       ///< callable(request) -> awaitable of the whole body
    // The Request's methods written in Python (ringbolt._reqresp), each called with the
    // request first: req.form(**options), req.set_cookie(name, value, **options),
    // req.delete_cookie(name, **options), req.background, and finish_result(req, result)
    // (cookies, background tasks and forms applied to a handler's answer).
    PyObject* request_form = nullptr;
    PyObject* request_set_cookie = nullptr;
    PyObject* request_delete_cookie = nullptr;
    PyObject* request_background = nullptr;
    PyObject* finish_result = nullptr;
};

/// A handler's return value reduced to what the wire needs.
struct response_parts {
    enum class body_source : uint8_t { bytes, stream, file };
    uint16_t status = 200;
    std::string content_type;    ///< a handler's own media type
    std::string_view known_type; ///< or one of ringbolt's defaults (static text: no allocation)
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    /// Where a converted body is written instead of `body`: the answer's own string, set
    /// by app_bridge::finish (a short body is not copied from one string to the other).
    std::string* body_into = nullptr;
    PyObject* body_ref = nullptr; ///< bytes: a large bytes object sent from itself (new reference)
    std::string_view body_view;   ///< its bytes, when body_ref is set
    body_source source = body_source::bytes;
    PyObject* content = nullptr; ///< stream: the iterable (new reference)
    std::string path;            ///< file: the path to send
    bool last_modified = true;   ///< file: add the file's Last-Modified unless the headers carry one
    response_parts() = default;
    response_parts(const response_parts&) = delete;
    response_parts& operator=(const response_parts&) = delete;
    ~response_parts() {
        Py_XDECREF(content);
        Py_XDECREF(body_ref);
    }
    std::string_view type() const noexcept { return known_type.empty() ? std::string_view(content_type) : known_type; }
    /// The string a converted body goes to.
    std::string& body_out() noexcept { return body_into != nullptr ? *body_into : body; }
    size_t body_size() const noexcept {
        return body_ref != nullptr ? body_view.size() : body_into != nullptr ? body_into->size() : body.size();
    }
    /// The body as owned bytes (copies a borrowed one).
    std::string take_body() { return body_ref != nullptr ? std::string(body_view) : std::move(body_out()); }
};

/// Convert a handler's return value (dict/list -> JSON, str -> text, bytes, None -> 204,
/// Response, StreamingResponse, FileResponse, (body, status[, headers]) tuple). False
/// with a Python exception set.
bool convert_result(PyObject* result, const python_types& types, response_parts& out);

/// A whole plain-text answer in `resp` (500 fallbacks, 404/403 for a file response).
void text_answer(http::app_response& resp, uint16_t status, std::string_view text);

/// A whole RFC 9457 problem answer (application/problem+json) in `resp`.
void problem_answer(http::app_response& resp, uint16_t status, std::string_view problem);

/// The native 500 fallback: a handler raised, a result could not be converted, a
/// stream failed before its head, or the request could not be handed over. A problem
/// with no detail of the cause (the traceback goes to the log).
inline void internal_error_answer(http::app_response& resp) {
    problem_answer(resp, 500, http::problem_internal_error);
}

/// Check the handler's status and headers against the framing the server owns and
/// build the response head: handler Content-Length must match a known body (or bounds
/// a streamed one), Transfer-Encoding/Connection are the server's, 1xx is refused.
/// False with a Python exception (ValueError naming the conflict) set.
/// `head_request`: an empty body may keep a declared Content-Length (what GET would send).
bool build_head(const response_parts& parts, http::response_head& head, bool head_request = false);

/// Address `resp` to the request it answers (connection, generation, order, route, start).
inline void address_response(const dispatch::app_request& req, http::app_response& resp) noexcept {
    resp.conn_slot = req.conn_slot;
    resp.conn_gen = req.conn_gen;
    resp.seq = req.seq;
    resp.route_id = req.route_id;
    resp.start_ns = req.start_ns;
}

/// Answer an async request: `result` when `exc` is None, else the exception. GIL held.
/// The answer is staged: True when it is the first staged since the last
/// flush_completions(), which the caller then schedules (once per loop iteration).
PyObject* complete_async(PyObject* pending, PyObject* result, PyObject* exc);
/// Answer an ASGI request with its whole response: `status` (int), `headers` (as the app
/// gave them: a list of (name, value) pairs) and `body` (bytes), converted as
/// complete_async converts a Response(body, status, headers, content_type="") (no
/// default Content-Type). A status or header the server refuses is a logged 500, as it
/// is there. 1 when the caller schedules flush_completions, 0 when not, -1 with an
/// exception when `pending` was answered already or is not a pending request. GIL held.
int complete_asgi(PyObject* pending, PyObject* status, PyObject* headers, PyObject* body);
/// The event loop starts a reactor's batch of requests (ringbolt._aio): what their first
/// steps stage is flushed by end_batch, so staging schedules no flush meanwhile. GIL held.
void begin_batch() noexcept;
/// The batch is started: deliver what it staged (flush_completions). GIL held.
PyObject* end_batch();
/// The request of `pending` is answered by a protocol switch (a WebSocket accept): mark
/// it answered and give its address and sink. False with a Python exception when it was
/// answered already or is not a pending request. GIL held.
bool claim_pending(PyObject* pending, server::response_sink*& sink, http::app_response& address);
/// Deliver one message to a reactor now (GIL held; released while delivering).
void deliver_now(server::response_sink& sink, http::app_response&& m);
/// Stage a message with the async answers (delivered by flush_completions, in order).
/// True when it is the first staged since the last flush: the caller schedules one. GIL held.
bool stage_message(server::response_sink& sink, http::app_response&& m);
/// Deliver the staged answers: one deliver per reactor. GIL held (released inside).
PyObject* flush_completions();
/// The async requests staged for the event loop since the last call: a list of
/// (handler, request, pending), or None when there are none (most wakes of the notify
/// eventfd are for streams). Called by the loop after the eventfd was read (stream_ready
/// clears it first). GIL held.
PyObject* take_async_requests();

struct handler_entry {
    PyObject* callable = nullptr;
    PyObject* param_names = nullptr; ///< tuple of str
    bool is_coroutine = false;
    bool wsgi = false; ///< a WSGICall: run by run_wsgi_call, with no Request made for it
};

class app_bridge final : public server::app_handler {
  public:
    explicit app_bridge(const python_types& types) : _types(types) {}
    ~app_bridge() override;

    /// Register a Python handler; returns its index. GIL held.
    uint32_t add_handler(PyObject* callable, PyObject* param_names, bool is_coroutine);
    /// Reactor threads about to start: one PyThreadState slot per reactor, and one for a
    /// hosted reactor's stand-in (`reactors`).
    void prepare(unsigned reactors);

    uint64_t handle_batch(unsigned reactor_index, std::span<dispatch::app_request> batch,
                          std::vector<http::app_response>& responses, server::response_sink& later) noexcept override;
    void begin_turns() noexcept override;
    void end_of_turn() noexcept override;
    void on_second(unsigned slot) noexcept override;
    void on_reactor_exit(unsigned reactor_index) noexcept override;
    /// Runs the asyncio runner's loop on the reactor's thread (AsyncRunner.host), with a
    /// callable that runs the reactor's turns. False without a runner.
    bool host_loop(server::reactor& r) noexcept override;
    /// A hosted turn holds the GIL (hosted_loop.cpp): it lets go while it waits for the
    /// stand-in to hand the ring back, and takes it again once it has the turn lock.
    void before_turn_lock_wait(unsigned reactor_index) noexcept override;
    void after_turn_lock_wait(unsigned reactor_index) noexcept override;
    /// Thread slot `i`'s hosted turn runs with the GIL held (`held`) or is over: its
    /// handle_batch calls take no GIL meanwhile. Only that thread reads or writes the slot.
    void set_turn_holds_gil(unsigned i, bool held) noexcept { _turn_holds_gil[i] = held ? 1 : 0; }
    std::shared_ptr<http::body_stream> make_body_stream(server::response_sink& sink, uint32_t slot, uint32_t gen,
                                                        uint64_t seq) noexcept override;

    const python_types& types() const noexcept { return _types; }

    /// Run handlers on `threads` Python threads instead of inline on the reactors, so a
    /// handler that blocks (I/O, sleep) does not hold up its core. GIL held.
    void start_pool(unsigned threads);
    /// Finish what is queued and join the pool. GIL NOT held.
    void stop_pool() noexcept;
    bool offloads() const noexcept override { return _pool_size > 0; }
    /// There is an asyncio runner (ringbolt._aio.AsyncRunner; None: there is none): async
    /// handlers' requests are staged for its loop, which takes them (take_async_requests)
    /// when the notify eventfd fires; each answer comes back through complete_async().
    /// GIL held.
    void set_async_runner(PyObject* runner);
    /// `App(json_default=...)`: called by the JSON writer for values of types it does not
    /// know while this bridge converts results (nullptr: none). GIL held.
    void set_json_default(PyObject* fn);
    PyObject* json_default() const noexcept { return _json_default; }
    /// App(conventions="fastapi"): an HTTPError answers `{"detail": ...}` as
    /// application/json, and a handler's failure Starlette's plain-text 500.
    void set_detail_errors(bool on) noexcept { _detail_errors = on; }
    void submit(unsigned reactor_index, std::vector<dispatch::app_request>& batch,
                server::response_sink& sink) noexcept override;

    /// What answering a request needs once the request itself is gone.
    struct answer_meta {
        std::string_view method;
        std::string_view target;
        bool head_request = false;
        const http::peer_address* peer = nullptr; ///< for the access log
        uint8_t version_minor = 1;
        uint64_t start_ns = 0;
        std::string_view request_id; ///< for the access log ("" when request ids are off)
    };
    /// Turn a handler's result (or its exception, when `exc` is set) into a response
    /// message in `resp` (addressed by the caller). Returns false when the response is
    /// streamed: its producer delivers the messages itself through `sink`.
    bool finish(PyObject* result, PyObject* exc, const answer_meta& meta, http::app_response& resp,
                server::response_sink& sink);
    /// finish() for what a mounted WSGI app's call returned (run_one): its native answer
    /// (wsgi_call.cpp) framed from the app's own status and header list; anything else
    /// (the Python path's Response, an error) through finish(). Kept out of finish() so
    /// that ringbolt's own handlers do not test every answer for it.
    bool finish_wsgi(PyObject* result, const answer_meta& meta, http::app_response& resp, server::response_sink& sink);
    /// finish() once the result is converted: `parts`, or (null) the exception `exc`, or
    /// when `exc` is null too the one the conversion left set.
    bool answer(response_parts* parts, PyObject* exc, const answer_meta& meta, http::app_response& resp,
                server::response_sink& sink);

  private:
    /// Run the requests of `batch` (GIL held): sync handlers into `answers`, async ones
    /// handed to the asyncio runner in one call.
    void run_batch(std::span<dispatch::app_request> batch, std::vector<http::app_response>& answers,
                   server::response_sink& later);
    void run_one(dispatch::app_request& req, std::vector<http::app_response>& answers, server::response_sink& later);
    /// answer(), inlined into finish() (answer.cpp).
    bool answer_inline(response_parts* parts, PyObject* exc, const answer_meta& meta, http::app_response& resp,
                       server::response_sink& sink);
    void error_response(PyObject* exc, const answer_meta& meta, http::app_response& resp);
    bool file_message(const response_parts& parts, http::app_response& resp);
    void start_stream(response_parts& parts, const answer_meta& meta, http::app_response& resp,
                      server::response_sink& sink);

    void pool_main() noexcept;
    /// Under _queue_mutex, with work queued: wake a pool thread unless one is on standby
    /// (or none is idle). Returns whether to notify.
    bool wake_standby_locked() noexcept;
    bool is_async(const dispatch::app_request& req) const noexcept;

    bool _async_runner = false;  ///< set_async_runner was given a runner: async requests are staged for it
    PyObject* _runner = nullptr; ///< that runner (host_loop runs its loop on a reactor's thread)
    PyObject* _json_default = nullptr;
    bool _detail_errors = false; ///< set_detail_errors

    const python_types& _types; ///< process-wide (module state): detached requests outlive servers
    struct task {
        server::response_sink* sink;
        dispatch::app_request req;
    };
    // The handler pool (see pool_main). Under _queue_mutex:
    std::mutex _queue_mutex;
    std::condition_variable _queue_cv;
    core::ring_fifo<task> _queue; ///< no allocation per request (a deque node per app_request)
    bool _stopping = false;
    unsigned _idle = 0;    ///< pool threads waiting on _queue_cv
    unsigned _wakeups = 0; ///< notifications not yet taken by a waiting thread
    unsigned _standby = 0; ///< awake pool threads not inside an app call: they look at the queue next
    using outbox_t = std::vector<std::pair<server::response_sink*, std::vector<http::app_response>>>;
    outbox_t _outbox;        ///< answers not yet delivered, per reactor
    size_t _outbox_held = 0; ///< answers in _outbox
    unsigned _pool_size = 0;
    std::string _pool_gate; ///< test hook RINGBOLT_TEST_POOL_GATE: pool threads wait for this file first
    std::vector<std::thread> _pool;
    std::vector<handler_entry> _handlers;
    std::vector<PyThreadState*> _thread_states;
    std::vector<uint8_t> _turn_holds_gil; ///< per thread slot: its hosted turn holds the GIL (set_turn_holds_gil)
    PyInterpreterState* _interp = nullptr;
};

} // namespace ringbolt::py
