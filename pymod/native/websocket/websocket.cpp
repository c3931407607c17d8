// ringbolt._native.WebSocket and ws_accept(): the accept answers the handshake with a
// 101 whose upgrade makes the reactor's ws::connection (over HTTP/2 the stream answers
// 200 and hosts a ws::session instead, RFC 8441); the channel between them holds
// received messages until the application takes them (reading pauses above a window)
// and counts what the application sent until the kernel has it (send waits above a mark).
#include "pymod/native/websocket/websocket.hpp"

#include "core/strings.hpp"
#include "dispatch/access_log.hpp"
#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/py_type.hpp"
#include "ws/connection.hpp"
#include "ws/deflate.hpp"
#include "ws/frame.hpp"
#include "ws/handshake.hpp"
#include "ws/utf8.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <string>

namespace ringbolt::py {

namespace {

/// Messages at least this large are sent from the Python object's own memory.
constexpr size_t borrow_at_least = 16 * 1024;

/// Received messages waiting for the application, and the close once it came.
class ws_inbox final : public loop_waitable {
  public:
    void push(ws::opcode op, std::string&& payload) noexcept {
        size_t n = payload.size();
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _messages.emplace_back(op, std::move(payload));
        }
        _delivered.fetch_add(n, std::memory_order_release);
        notify();
    }
    void close(uint16_t code, std::string_view reason) noexcept {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            if (_closed) {
                return;
            }
            _closed = true;
            _code = code;
            _reason.assign(reason);
        }
        notify();
    }
    uint64_t unconsumed() const noexcept {
        return _delivered.load(std::memory_order_acquire) - _taken.load(std::memory_order_acquire);
    }
    /// The next message, or the close, or nothing yet. GIL held.
    bool take(ws::opcode& op, std::string& payload, bool& closed, uint16_t& code, std::string& reason) {
        std::lock_guard<std::mutex> lock(_mutex);
        if (!_messages.empty()) {
            op = _messages.front().first;
            payload = std::move(_messages.front().second);
            _messages.pop_front();
            _taken.fetch_add(payload.size(), std::memory_order_release);
            closed = false;
            return true;
        }
        if (_closed) {
            closed = true;
            code = _code;
            reason = _reason;
            return true;
        }
        return false;
    }
    uint16_t code() const noexcept {
        std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(_mutex));
        return _closed ? _code : 0;
    }

  private:
    bool ready_now() const noexcept override { return !_messages.empty() || _closed; }

    std::deque<std::pair<ws::opcode, std::string>> _messages;
    bool _closed = false;
    uint16_t _code = 0;
    std::string _reason;
    std::atomic<uint64_t> _delivered{0};
    std::atomic<uint64_t> _taken{0};
};

/// The application's sends: produced (wire bytes, once framed) against sent.
class ws_outbox final : public loop_waitable {
  public:
    static constexpr uint64_t high_water = 1u << 20; ///< unsent bytes above which a sender waits

    void produced(uint64_t n) noexcept { _produced.fetch_add(n, std::memory_order_acq_rel); }
    void framed(uint64_t payload, uint64_t wire) noexcept {
        // Counted as `payload` when sent; the queue holds `wire` (modular arithmetic).
        _produced.fetch_add(wire - payload, std::memory_order_acq_rel);
        if (wire < payload) {
            check();
        }
    }
    void sent(uint64_t n) noexcept {
        _sent.fetch_add(n, std::memory_order_acq_rel);
        check();
    }
    void close() noexcept {
        _closed.store(true, std::memory_order_release);
        notify();
    }
    bool closed() const noexcept { return _closed.load(std::memory_order_acquire); }
    bool must_wait() const noexcept { return !closed() && unsent() > high_water; }

  private:
    uint64_t unsent() const noexcept {
        return _produced.load(std::memory_order_acquire) - _sent.load(std::memory_order_acquire);
    }
    void check() noexcept {
        if (unsent() <= high_water / 2) {
            notify();
        }
    }
    bool ready_now() const noexcept override { return closed() || unsent() <= high_water / 2; }

    std::atomic<uint64_t> _produced{0};
    std::atomic<uint64_t> _sent{0};
    std::atomic<bool> _closed{false};
};

class ws_channel final : public ws::app_channel {
  public:
    ws_channel() : in(std::make_shared<ws_inbox>()), out(std::make_shared<ws_outbox>()) {}

    void on_message(ws::opcode op, std::string&& payload) noexcept override { in->push(op, std::move(payload)); }
    void on_closed(uint16_t code, std::string_view reason) noexcept override {
        in->close(code, reason);
        out->close();
    }
    uint64_t unconsumed() const noexcept override { return in->unconsumed(); }
    void on_framed(uint64_t payload, uint64_t wire) noexcept override { out->framed(payload, wire); }
    void on_sent(size_t bytes) noexcept override { out->sent(bytes); }

    std::shared_ptr<ws_inbox> in;
    std::shared_ptr<ws_outbox> out;
};

/// Told when the 101 cannot switch (the connection went away first, or it was
/// closing): the application then hears a close (1006) instead of waiting for ever.
class upgrade_watch final : public http::stream_control {
  public:
    explicit upgrade_watch(std::shared_ptr<ws_channel> chan) : _chan(std::move(chan)) {}
    void on_sent(size_t) noexcept override {}
    void on_closed() noexcept override { _chan->on_closed(ws::close_code::abnormal, "connection lost"); }

  private:
    std::shared_ptr<ws_channel> _chan;
};

struct websocket_object {
    PyObject_HEAD std::shared_ptr<ws_channel>* chan;
    server::response_sink* sink;
    http::app_response* address; ///< slot, gen, seq
    uint64_t read_window;
    bool close_sent;
};

websocket_object* self_of(PyObject* o) {
    return reinterpret_cast<websocket_object*>(o);
}

/// Stage a message for the connection with the loop's other answers (one reactor
/// wake-up per loop iteration, not per message). True: the caller schedules the flush.
bool stage(websocket_object* w, http::app_response&& m) {
    m.conn_slot = w->address->conn_slot;
    m.conn_gen = w->address->conn_gen;
    m.seq = w->address->seq;
    return stage_message(*w->sink, std::move(m));
}

void ws_dealloc(PyObject* o) {
    websocket_object* w = self_of(o);
    if (w->chan != nullptr) {
        if (!w->close_sent && !(*w->chan)->out->closed()) {
            // Dropped without a close (the handler returned or failed): close 1011 so the
            // client is not left waiting; a handler that returns after a normal end has
            // already sent its close.
            http::app_response m;
            m.parts = http::app_response::part_abort;
            stage(w, std::move(m));
            // Nobody may schedule a flush for it now: deliver what is staged at once
            // (earlier staged messages first, so nothing overtakes them).
            PyObject* r = flush_completions();
            Py_XDECREF(r);
            if (r == nullptr) {
                PyErr_Clear();
            }
        }
        delete w->chan;
    }
    delete w->address;
    Py_TYPE(o)->tp_free(o);
}

// receive() -> None (nothing yet: await a waiter), (1, str, flush), (2, bytes, flush),
// or (8, code, reason) once closed (every call after that too). flush: 1 when the
// caller must schedule _flush_completions (credit was staged).
PyObject* ws_receive(PyObject* o, PyObject*) {
    release_sent_objects();
    websocket_object* w = self_of(o);
    ws_channel& c = **w->chan;
    ws::opcode op;
    std::string payload;
    bool closed = false;
    uint16_t code = 0;
    std::string reason;
    uint64_t before = c.in->unconsumed();
    if (!c.in->take(op, payload, closed, code, reason)) {
        Py_RETURN_NONE;
    }
    if (closed) {
        return Py_BuildValue("(iis#)", 8, static_cast<int>(code), reason.data(),
                             static_cast<Py_ssize_t>(reason.size()));
    }
    // Credit: reading paused at the window; resume once half of it is taken.
    uint64_t half = w->read_window / 2;
    int flush = 0;
    if (before >= half && c.in->unconsumed() < half) {
        http::app_response m;
        m.parts = http::app_response::part_read_more;
        flush = stage(w, std::move(m)) ? 1 : 0;
    }
    PyObject* data;
    int kind;
    if (op == ws::opcode::text) {
        // Validated as UTF-8 by the connection.
        data = PyUnicode_DecodeUTF8(payload.data(), static_cast<Py_ssize_t>(payload.size()), "strict");
        kind = 1;
    } else {
        data = PyBytes_FromStringAndSize(payload.data(), static_cast<Py_ssize_t>(payload.size()));
        kind = 2;
    }
    if (data == nullptr) {
        return nullptr;
    }
    PyObject* t = PyTuple_New(3); // not Py_BuildValue: no format string to read per message
    if (t == nullptr) {
        Py_DECREF(data);
        return nullptr;
    }
    PyTuple_SET_ITEM(t, 0, PyLong_FromLong(kind)); // small ints: CPython's shared objects, never null
    PyTuple_SET_ITEM(t, 1, data);
    PyTuple_SET_ITEM(t, 2, PyLong_FromLong(flush));
    return t;
}

// send(data) -> int: str is a text message, bytes-like a binary one. 0: queued; 1:
// queued, over the mark (await the send waiter); -1: the WebSocket is closed; plus 2
// when the caller must schedule _flush_completions (the first message staged).
PyObject* ws_send(PyObject* o, PyObject* data) {
    release_sent_objects();
    websocket_object* w = self_of(o);
    ws_channel& c = **w->chan;
    http::app_response m;
    m.parts = http::app_response::part_message;
    if (PyUnicode_Check(data)) {
        Py_ssize_t n;
        const char* p = PyUnicode_AsUTF8AndSize(data, &n);
        if (p == nullptr) {
            return nullptr; // lone surrogates: not encodable, so not a valid text message
        }
        m.opcode = static_cast<uint8_t>(ws::opcode::text);
        if (static_cast<size_t>(n) >= borrow_at_least) {
            m.rare().borrowed = std::string_view(p, static_cast<size_t>(n)); // the str's UTF-8, kept with it
            m.more->keep = hold_python_object(data);
        } else {
            m.body.assign(p, static_cast<size_t>(n));
        }
    } else if (PyBytes_Check(data) && static_cast<size_t>(PyBytes_GET_SIZE(data)) >= borrow_at_least) {
        // Large bytes are sent from the object itself (immutable; released once sent).
        m.opcode = static_cast<uint8_t>(ws::opcode::binary);
        m.rare().borrowed = std::string_view(PyBytes_AS_STRING(data), static_cast<size_t>(PyBytes_GET_SIZE(data)));
        m.more->keep = hold_python_object(data);
    } else if (PyObject_CheckBuffer(data)) {
        Py_buffer view;
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
            return nullptr;
        }
        m.opcode = static_cast<uint8_t>(ws::opcode::binary);
        m.body.assign(static_cast<const char*>(view.buf), static_cast<size_t>(view.len));
        PyBuffer_Release(&view);
    } else {
        PyErr_Format(PyExc_TypeError, "a WebSocket message is str (text) or bytes (binary), not %.100s",
                     Py_TYPE(data)->tp_name);
        return nullptr;
    }
    if (w->close_sent || c.out->closed()) {
        return PyLong_FromLong(-1);
    }
    c.out->produced(m.body_bytes().size());
    long flush = stage(w, std::move(m)) ? 2 : 0;
    return PyLong_FromLong(flush + (c.out->must_wait() ? 1 : 0));
}

// close(code, reason) -> bool: the close frame (the connection ends when the client
// answers). True when the caller must schedule _flush_completions.
PyObject* ws_close(PyObject* o, PyObject* args) {
    websocket_object* w = self_of(o);
    int code = 1000;
    const char* reason = "";
    Py_ssize_t reason_len = 0;
    if (!PyArg_ParseTuple(args, "|is#", &code, &reason, &reason_len)) {
        return nullptr;
    }
    if (code < 0 || code > 65535 || !ws::sendable_close_code(static_cast<uint16_t>(code)) || code == 1002 ||
        code == 1007 || code == 1009 || code == 1010) {
        // 1002/1007/1009 are the server's own failures; 1010 is a client's (§7.4.1).
        PyErr_Format(PyExc_ValueError,
                     "WebSocket close code %d cannot be sent: use 1000, 1001, 1003, 1008, 1011-1014 or 3000-4999",
                     code);
        return nullptr;
    }
    if (reason_len > 123) {
        PyErr_Format(PyExc_ValueError, "a WebSocket close reason is at most 123 bytes in UTF-8, not %zd", reason_len);
        return nullptr;
    }
    if (w->close_sent || (*w->chan)->out->closed()) {
        w->close_sent = true;
        Py_RETURN_FALSE;
    }
    w->close_sent = true;
    http::app_response m;
    m.parts = http::app_response::part_message;
    m.opcode = static_cast<uint8_t>(ws::opcode::close);
    m.body.push_back(static_cast<char>(code >> 8));
    m.body.push_back(static_cast<char>(code & 0xFF));
    m.body.append(reason, static_cast<size_t>(reason_len));
    return PyBool_FromLong(stage(w, std::move(m)));
}

PyObject* ws_set_receive_waiter(PyObject* o, PyObject* future) {
    (*self_of(o)->chan)->in->set_waiter(future);
    Py_RETURN_NONE;
}

PyObject* ws_set_send_waiter(PyObject* o, PyObject* future) {
    (*self_of(o)->chan)->out->set_waiter(future);
    Py_RETURN_NONE;
}

PyObject* ws_closed(PyObject* o, void*) {
    return PyBool_FromLong((*self_of(o)->chan)->out->closed());
}

PyObject* ws_close_code(PyObject* o, void*) {
    uint16_t code = (*self_of(o)->chan)->in->code();
    if (code == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(code);
}

PyMethodDef ws_methods[] = {
    {"receive", ws_receive, METH_NOARGS,
     "The next message: (1, str, flush), (2, bytes, flush), (8, code, reason) once closed, or None (await)."},
    {"send", ws_send, METH_O,
     "Send str (text) or bytes (binary): 0 queued, 1 over the mark (await), -1 closed; +2: schedule a flush."},
    {"close", ws_close, METH_VARARGS, "close(code=1000, reason=''): send the close frame; True: schedule a flush."},
    {"set_receive_waiter", ws_set_receive_waiter, METH_O, "A future resolved once receive() has something."},
    {"set_send_waiter", ws_set_send_waiter, METH_O, "A future resolved once send may go on (or closed)."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef ws_getset[] = {
    {"closed", ws_closed, nullptr, "The WebSocket is closing or closed: nothing more can be sent.", nullptr},
    {"close_code", ws_close_code, nullptr, "The close code once closed (1006: dropped without a close).", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject websocket_type = native_type({
    .name = "ringbolt._native.WebSocket",
    .basicsize = sizeof(websocket_object),
    .doc = "An accepted WebSocket (created by ws_accept).",
    .dealloc = ws_dealloc,
    .methods = ws_methods,
    .getset = ws_getset,
});

bool valid_field_name(std::string_view n) noexcept {
    if (n.empty()) {
        return false;
    }
    for (unsigned char c : n) {
        if (c <= 32 || c >= 127 ||
            std::string_view("\"(),/:;<=>?@[\\]{}").find(static_cast<char>(c)) != std::string_view::npos) {
            return false;
        }
    }
    return true;
}

bool valid_field_value(std::string_view v) noexcept {
    for (unsigned char c : v) {
        if ((c < 32 && c != '\t') || c == 127) {
            return false;
        }
    }
    return true;
}

bool as_text(PyObject* o, std::string& out) {
    if (PyBytes_Check(o)) {
        out.assign(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)));
        return true;
    }
    if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        const char* p = PyUnicode_AsUTF8AndSize(o, &n);
        if (p == nullptr) {
            return false;
        }
        out.assign(p, static_cast<size_t>(n));
        return true;
    }
    PyErr_Format(PyExc_TypeError, "WebSocket accept headers are (name, value) pairs of str or bytes, not %.100s",
                 Py_TYPE(o)->tp_name);
    return false;
}

// ws_accept(pending, request, subprotocol, headers, settings) -> WebSocket
// settings: (max_message, ping_interval_s, ping_timeout_s, close_timeout_s, deflate, read_window)
PyObject* ws_accept(PyObject*, PyObject* args) {
    PyObject *pending, *request, *subprotocol, *headers;
    unsigned long long max_message, read_window;
    unsigned ping_interval, ping_timeout, close_timeout;
    int deflate;
    if (!PyArg_ParseTuple(args, "OOOO(KIIIpK)", &pending, &request, &subprotocol, &headers, &max_message,
                          &ping_interval, &ping_timeout, &close_timeout, &deflate, &read_window)) {
        return nullptr;
    }
    if (!PyObject_TypeCheck(request, &request_type)) {
        PyErr_SetString(PyExc_TypeError, "ws_accept needs the native Request");
        return nullptr;
    }
    auto* ro = reinterpret_cast<request_object*>(request);
    const dispatch::app_request& req = *ro->req; // the batch entry, or the object's own copy once detached
    if (!req.websocket) {
        PyErr_SetString(PyExc_RuntimeError, "this request is not a WebSocket handshake");
        return nullptr;
    }
    std::string key;
    std::string offers;
    for (size_t i = 0; i + 1 < req.headers.size(); i += 2) {
        std::string_view name = req.headers[i].in(req.data);
        std::string_view value = req.headers[i + 1].in(req.data);
        if (core::iequals(name, "sec-websocket-key")) {
            key.assign(value);
        } else if (core::iequals(name, "sec-websocket-extensions")) {
            if (!offers.empty()) {
                offers.append(", ");
            }
            offers.append(value);
        }
    }
    std::string fields;
    if (req.version_minor < http::version_http2) {
        fields = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
        fields.append(ws::accept_value(key)).append("\r\n");
    } // else RFC 8441 §5: the stream's 200 carries none of them (no key, no accept)
    if (subprotocol != Py_None) {
        std::string proto;
        if (!as_text(subprotocol, proto)) {
            return nullptr;
        }
        if (!valid_field_name(proto)) { // a subprotocol is a token (RFC 6455 §4.1 item 10)
            PyErr_Format(PyExc_ValueError, "WebSocket subprotocol %R is not a token", subprotocol);
            return nullptr;
        }
        fields.append("Sec-WebSocket-Protocol: ").append(proto).append("\r\n");
    }
    ws::settings cfg;
    cfg.max_message = max_message;
    cfg.read_window = read_window;
    cfg.ping_interval_s = ping_interval;
    cfg.ping_timeout_s = ping_timeout;
    cfg.close_timeout_s = close_timeout;
    if (deflate && !offers.empty()) {
        std::string response;
        cfg.deflate = ws::negotiate_deflate(offers, cfg.deflate_cfg, response);
        if (cfg.deflate) {
            fields.append("Sec-WebSocket-Extensions: ").append(response).append("\r\n");
        }
    }
    PyObject* iter = PyObject_GetIter(headers);
    if (iter == nullptr) {
        return nullptr;
    }
    while (PyObject* item = PyIter_Next(iter)) {
        std::string name, value;
        bool ok = PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2 && as_text(PyTuple_GET_ITEM(item, 0), name) &&
                  as_text(PyTuple_GET_ITEM(item, 1), value);
        Py_DECREF(item);
        if (!ok) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "WebSocket accept headers are (name, value) pairs");
            }
            Py_DECREF(iter);
            return nullptr;
        }
        if (!valid_field_name(name) || !valid_field_value(value)) {
            PyErr_Format(PyExc_ValueError, "invalid header field for the WebSocket accept: %s", name.c_str());
            Py_DECREF(iter);
            return nullptr;
        }
        // The handshake's own fields and framing are the server's.
        for (std::string_view own : {"upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions",
                                     "content-length", "transfer-encoding"}) {
            if (core::iequals(name, own)) {
                PyErr_Format(PyExc_ValueError, "the server sets %s in a WebSocket accept", name.c_str());
                Py_DECREF(iter);
                return nullptr;
            }
        }
        if (subprotocol != Py_None && core::iequals(name, "sec-websocket-protocol")) {
            continue; // given as the subprotocol already
        }
        fields.append(name).append(": ").append(value).append("\r\n");
    }
    Py_DECREF(iter);
    if (PyErr_Occurred()) {
        return nullptr;
    }

    server::response_sink* sink = nullptr;
    http::app_response address;
    if (!claim_pending(pending, sink, address)) {
        return nullptr;
    }
    auto chan = std::make_shared<ws_channel>();
    auto* w = PyObject_New(websocket_object, &websocket_type);
    if (w == nullptr) {
        return nullptr;
    }
    w->chan = new std::shared_ptr<ws_channel>(chan);
    w->sink = sink;
    w->address = new http::app_response();
    w->address->conn_slot = address.conn_slot;
    w->address->conn_gen = address.conn_gen;
    w->address->seq = address.seq;
    w->read_window = read_window;
    w->close_sent = false;

    http::app_response m;
    m.conn_slot = address.conn_slot;
    m.conn_gen = address.conn_gen;
    m.seq = address.seq;
    m.route_id = address.route_id;
    m.start_ns = address.start_ns;
    m.parts = http::app_response::part_head;
    m.start.status = 101;
    m.start.fields = std::move(fields);
    m.rare().upgrade = std::make_shared<ws::upgrade>(chan, cfg);
    m.stream = std::make_shared<upgrade_watch>(chan);
    if (dispatch::access_log_enabled()) [[unlikely]] {
        // The handshake's answer has its line like any other: the status the client sees
        // (HTTP/1.1's 101; an HTTP/2 or HTTP/3 stream's 200, RFC 8441 §5, RFC 9220 §3).
        uint16_t status = req.version_minor < http::version_http2 ? 101 : 200;
        dispatch::write_access_log({&req.peer, req.method.in(req.data), req.target.in(req.data), req.version_minor,
                                    status, -1, req.start_ns, req.request_id.in(req.data)});
    }
    deliver_now(*sink, std::move(m));
    return reinterpret_cast<PyObject*>(w);
}

PyMethodDef module_functions[] = {
    {"ws_accept", ws_accept, METH_VARARGS,
     "ws_accept(pending, request, subprotocol, headers, settings) -> WebSocket: answer the handshake with 101."},
    {nullptr, nullptr, 0, nullptr},
};

} // namespace

bool init_websocket(PyObject* module) {
    if (!ready_native_type(websocket_type, module, "WebSocket")) {
        return false;
    }
    return PyModule_AddFunctions(module, module_functions) == 0;
}

} // namespace ringbolt::py
