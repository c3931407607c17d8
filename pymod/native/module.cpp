// ringbolt._native: the extension module, in CPython's own API. One init_* per area (the
// Server type ringbolt.App drives: server_py.cpp); the module's own functions here.
#include "pymod/native/py_call.hpp"

#include "core/code_pages.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
#include "dispatch/access_log.hpp"
#include "http/char_classes.hpp"
#include "http/method_names.hpp"
#include "http/parser.hpp"
#include "http/response_writer.hpp"
#include "pymod/native/asgi/asgi_cycle.hpp"
#include "pymod/native/bridge/app_bridge.hpp"
#include "pymod/native/bridge/kept_list.hpp"
#include "pymod/native/bridge/request_object.hpp"
#include "pymod/native/bridge/response_stream.hpp"
#include "pymod/native/json/json_py.hpp"
#include "pymod/native/json/json_writer_encode.hpp"
#include "pymod/native/py_exception.hpp"
#include "pymod/native/py_type.hpp"
#include "pymod/native/server_options.hpp"
#include "pymod/native/tls/tls_info_py.hpp"
#include "pymod/native/tls/tls_py.hpp"
#include "pymod/native/websocket/websocket.hpp"
#include "pymod/native/wsgi/wsgi_call.hpp"
#include "quic/steering.hpp"
#include "quic/tls_session.hpp"
#include "server/protocols.hpp"
#include "server/server.hpp"
#include "uring/listener.hpp"
#include "uring/recv_ring.hpp"
#include "uring/ring.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

namespace ringbolt::py {
int init_asgi_call(PyObject* module);  // asgi_call.cpp
int init_eager_task(PyObject* module); // eager_task.cpp
} // namespace ringbolt::py

namespace ringbolt::py {

using ringbolt::py::app_bridge;
using ringbolt::py::python_types;
using ringbolt::py::response_parts;

int init_forms(PyObject* module);           // bridge/form_parser.cpp
int init_value_signer(PyObject* module);    // tls/signed_value_py.cpp: ringbolt._native.ValueSigner
int init_dependency_fast(PyObject* module); // bridge/dependency_fast.cpp: SessionReader, KeptBearer
int init_server_type(PyObject* module);     // server_py.cpp: ringbolt._native.Server

python_types g_types; // set once by ringbolt/__init__.py via _set_types and _set_request_methods

// model_plan.py tells the writer how the installed pydantic spells 1e16 (1e+16 or 1e16).
PyObject* set_pydantic_exponent_plus(PyObject*, PyObject* flag) {
    int on = PyObject_IsTrue(flag);
    if (on < 0) {
        return nullptr;
    }
    ringbolt::py::json_detail::pydantic_exponent_plus = on == 1;
    Py_RETURN_NONE;
}

// Once the app is loaded (ringbolt/serving/app_server.py): the pages of the extension and
// of the libraries it brings that start-up touched, given back (core/code_pages.hpp).
PyObject* release_startup_pages(PyObject*, PyObject*) {
    return PyLong_FromSize_t(
        ringbolt::core::code_pages::release(reinterpret_cast<const void*>(&release_startup_pages)));
}

PyObject* json_loads(PyObject*, PyObject* data) {
    std::string_view text;
    if (PyUnicode_Check(data)) {
        Py_ssize_t n = 0;
        const char* s = PyUnicode_AsUTF8AndSize(data, &n);
        if (s == nullptr) {
            return nullptr;
        }
        text = std::string_view(s, static_cast<size_t>(n));
    } else if (PyBytes_Check(data)) {
        text = std::string_view(PyBytes_AS_STRING(data), static_cast<size_t>(PyBytes_GET_SIZE(data)));
    } else {
        PyErr_Format(PyExc_TypeError, "json_loads(data) takes str or bytes, not %s", Py_TYPE(data)->tp_name);
        return nullptr;
    }
    std::string buf(text); // simdjson reads a padded copy
    return ringbolt::py::parse_json(buf.data(), buf.size(), false, g_types.bad_request);
}

PyObject* complete_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_complete(pending, result, exc) takes 3 arguments");
        return nullptr;
    }
    return ringbolt::py::complete_async(args[0], args[1], args[2]);
}

PyObject* needs_finish_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_needs_finish(state: dict, result) takes 2 arguments");
        return nullptr;
    }
    return PyBool_FromLong(ringbolt::py::needs_finish(args[0], args[1], g_types));
}

PyObject* flush_noargs(PyObject*, PyObject*) {
    return ringbolt::py::flush_completions();
}

PyObject* take_async_noargs(PyObject*, PyObject*) {
    return ringbolt::py::take_async_requests();
}

PyObject* begin_batch_noargs(PyObject*, PyObject*) {
    ringbolt::py::begin_batch();
    Py_RETURN_NONE;
}

PyObject* end_batch_noargs(PyObject*, PyObject*) {
    return ringbolt::py::end_batch();
}

/// The borrowed arguments of a fixed-arity call, or TypeError naming `fn`.
template <size_t N> void exact_args(const char* fn, PyObject* const* args, Py_ssize_t nargs, PyObject* (&out)[N]) {
    if (nargs != static_cast<Py_ssize_t>(N)) {
        type_error(std::string(fn) + "() takes " + std::to_string(N) + " arguments (" + std::to_string(nargs) +
                   " given)");
    }
    for (size_t i = 0; i < N; ++i) {
        out[i] = args[i];
    }
}

/// `fn(a...)`: each argument kept for the process's life (a new reference) in its field
/// of g_types.
template <size_t N>
PyObject* keep_types(const char* fn, PyObject* const* args, Py_ssize_t nargs,
                     PyObject* python_types::*const (&fields)[N]) {
    return guarded([&]() -> PyObject* {
        PyObject* a[N];
        exact_args(fn, args, nargs, a);
        for (size_t i = 0; i < N; ++i) {
            g_types.*fields[i] = Py_NewRef(a[i]);
        }
        Py_RETURN_NONE;
    });
}

PyObject* set_types(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    static PyObject* python_types::*const fields[] = {
        &python_types::response,           &python_types::http_error,
        &python_types::bad_request,        &python_types::headers,
        &python_types::query_params,       &python_types::log_exception,
        &python_types::streaming_response, &python_types::file_response,
        &python_types::start_stream,       &python_types::client_disconnect,
        &python_types::request_stream,     &python_types::request_read};
    PyObject* done = keep_types("_set_types", args, nargs, fields);
    if (done != nullptr) {
        g_types.query_items_offset = py::query_items_offset(g_types.query_params);
    }
    return done;
}

// The Request's methods written in Python, registered by the package as it is imported:
// the native module imports nothing of the package.
PyObject* set_request_methods(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    static PyObject* python_types::*const fields[] = {&python_types::request_form, &python_types::request_set_cookie,
                                                      &python_types::request_delete_cookie,
                                                      &python_types::request_background, &python_types::finish_result};
    return keep_types("_set_request_methods", args, nargs, fields);
}

PyObject* stream_notify_fd_py(PyObject*, PyObject*) {
    return PyLong_FromLong(ringbolt::py::stream_notify_fd());
}

PyObject* stream_ready_py(PyObject*, PyObject*) {
    return ringbolt::py::stream_ready();
}

PyObject* stream_ready_here_py(PyObject*, PyObject*) {
    return ringbolt::py::stream_ready(false);
}

PyObject* loop_wakes_py(PyObject*, PyObject*) {
    return Py_BuildValue(
        "(KK)", static_cast<unsigned long long>(ringbolt::py::loop_wakes_eventfd.load(std::memory_order_relaxed)),
        static_cast<unsigned long long>(ringbolt::py::loop_wakes_after_turn.load(std::memory_order_relaxed)));
}

PyObject* set_log_level_py(PyObject*, PyObject* level) {
    return guarded([&]() -> PyObject* {
        core::set_log_level(static_cast<core::log_level>(arg_as<int>(level, "level")));
        Py_RETURN_NONE;
    });
}

PyObject* log_dropped_py(PyObject*, PyObject*) {
    return PyLong_FromUnsignedLongLong(core::log_dropped());
}

PyObject* int_list(const std::vector<int>& fds) {
    ref out(checked(PyList_New(static_cast<Py_ssize_t>(fds.size()))));
    for (size_t i = 0; i < fds.size(); ++i) {
        PyList_SET_ITEM(out.get(), static_cast<Py_ssize_t>(i), checked(PyLong_FromLong(fds[i])));
    }
    return out.release();
}

PyObject* bind_listeners(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return guarded([&] {
        static const char* const names[] = {"host", "port", "count", "backlog"};
        PyObject* a[4];
        bind_args("bind_listeners", names, 4, args, nargs, kwnames, a);
        auto host = arg_as<std::string>(a[0], names[0]);
        auto port = arg_as<uint16_t>(a[1], names[1]);
        core::result<std::vector<int>> fds =
            uring::open_listeners(host, port, arg_as<unsigned>(a[2], names[2]), arg_as<int>(a[3], names[3]));
        if (!fds.ok()) {
            int err = fds.sys_errno();
            os_error(err, uring::describe_listen_failure(host, port, err));
        }
        return int_list(fds.value());
    });
}

PyObject* bind_quic_sockets(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return guarded([&] {
        static const char* const names[] = {"host", "port", "count"};
        PyObject* a[3];
        bind_args("bind_quic_sockets", names, 3, args, nargs, kwnames, a);
        auto host = arg_as<std::string>(a[0], names[0]);
        auto port = arg_as<uint16_t>(a[1], names[1]);
        uring::datagram_options opts;
        opts.gro = true;
        opts.receive_buffer = server::quic_receive_buffer;
        opts.announce = false; // the supervisor: no log line, so no log thread, before it forks
        core::result<std::vector<uring::datagram_socket>> socks =
            uring::open_datagram_group(host, port, arg_as<unsigned>(a[2], names[2]), opts);
        if (!socks.ok()) {
            int err = socks.sys_errno();
            os_error(err,
                     "cannot open UDP " + host + ":" + std::to_string(port) + " for HTTP/3: " + std::strerror(err));
        }
        std::vector<int> fds;
        for (const uring::datagram_socket& d : socks.value()) {
            fds.push_back(d.fd);
        }
        return int_list(fds);
    });
}

PyObject* steer_quic(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    return guarded([&]() -> PyObject* {
        static const char* const names[] = {"fd", "total", "live"};
        PyObject* a[3];
        bind_args("steer_quic", names, 2, args, nargs, kwnames, a);
        std::vector<unsigned> live =
            a[2] != nullptr ? arg_as<std::vector<unsigned>>(a[2], names[2]) : std::vector<unsigned>{};
        core::result<void> r =
            quic::attach_steering(arg_as<int>(a[0], names[0]), arg_as<unsigned>(a[1], names[1]), live);
        if (!r.ok()) {
            int err = r.sys_errno();
            os_error(err, r.error() == core::errc::invalid_argument
                              ? "a group of 1.." + std::to_string(quic::max_steered_sockets) + " sockets"
                              : std::string("the kernel refused the QUIC steering program: ") + std::strerror(err));
        }
        Py_RETURN_NONE;
    });
}

PyObject* refuse_new_connections(PyObject*, PyObject* fd) {
    return guarded([&]() -> PyObject* {
        core::result<void> r = uring::refuse_new_connections(arg_as<int>(fd, "fd"));
        if (!r.ok()) {
            int err = r.sys_errno();
            os_error(err, r.error() == core::errc::invalid_argument
                              ? "not a listening stream socket"
                              : std::string("cannot refuse new connections: ") + std::strerror(err));
        }
        Py_RETURN_NONE;
    });
}

PyObject* probe_io_uring(PyObject*, PyObject*) {
    return guarded([] {
        ref d(checked(PyDict_New()));
        core::result<uring::ring_features> r = uring::probe_io_uring();
        put_item(d.get(), "available", PyBool_FromLong(r.ok()));
        if (r.ok()) {
            const auto& f = r.value();
            put_item(d.get(), "tier", str_of(f.tier));
            put_item(d.get(), "defer_taskrun", PyBool_FromLong(f.defer_taskrun));
            put_item(d.get(), "coop_taskrun", PyBool_FromLong(f.coop_taskrun));
            put_item(d.get(), "ext_arg", PyBool_FromLong(f.ext_arg));
            put_item(d.get(), "multishot_accept", PyBool_FromLong(f.multishot_accept));
            put_item(d.get(), "multishot_recv", PyBool_FromLong(f.multishot_recv));
            put_item(d.get(), "buf_ring", PyBool_FromLong(f.buf_ring));
            put_item(d.get(), "recv_limit", PyBool_FromLong(f.recv_limit));
            put_item(d.get(), "incremental_buffers", PyBool_FromLong(f.incremental_buffers));
            // The receive buffers a reactor of `serve` gets (server_config's bounds).
            server::server_config defaults;
            uring::recv_ring_plan plan =
                uring::recv_ring::plan(defaults.buffer_count, defaults.buffer_size, f.incremental_buffers);
            std::string words = uring::recv_ring::describe(plan);
            if (!f.incremental_buffers && f.incremental_why_not != nullptr) {
                words += std::string("; not incremental: ") + f.incremental_why_not;
            }
            put_item(d.get(), "receive_buffers", str_of(words));
        } else {
            put_item(d.get(), "error", str_of(uring::describe_setup_failure(r.sys_errno()))); // the words serve logs
        }
        return d.release();
    });
}

// Plain METH_FASTCALL functions: _complete and the loop's are called for every async
// request, json_dumps for every answer it writes.
PyMethodDef module_defs[] = {
    method(
        "json_dumps", fastcall<&ringbolt::py::json_dumps>(), fastcall_kw,
        "json_dumps(obj, default=None, *, strict=False, plan=None) -> bytes\n\nSerialize with ringbolt's JSON writer "
        "(compact, UTF-8): the JSON types, datetime/date/time (ISO 8601), UUID, Enum, Decimal and dataclasses; "
        "`default(value)` is called for anything else (with strict=True, for anything that is not exactly a "
        "dict, list, str, int, float, bool or None; those are written as pydantic writes them, and ValueError "
        "is raised for what pydantic spells its own way: a key that is not a str, a lone surrogate). `plan`: "
        "a type's write plan (ringbolt.typed.model_plan): the value written as pydantic writes that type, or "
        "None for a value that is not exactly what the plan declares."),
    method("_set_pydantic_exponent_plus", set_pydantic_exponent_plus, METH_O,
           "Whether the installed pydantic writes 1e16 as 1e+16 (json_dumps' plans spell floats as it does)."),
    method("json_loads", json_loads, METH_O, "json_loads(data: str | bytes): parse JSON with simdjson."),
    method("_set_types", fastcall<&set_types>(), METH_FASTCALL, "The package's types the bridge builds and checks."),
    method("_set_request_methods", fastcall<&set_request_methods>(), METH_FASTCALL,
           "The Request's methods written in Python."),
    method("_complete", fastcall<&complete_fast>(), METH_FASTCALL,
           "_complete(pending, result, exc): answer an async request (used by ringbolt's asyncio runner); True: "
           "schedule _flush_completions."),
    method("_needs_finish", fastcall<&needs_finish_fast>(), METH_FASTCALL,
           "_needs_finish(state, result): whether finish_result has anything to do (the bridge's own rule, for the "
           "ASGI adapter)."),
    method("_flush_completions", flush_noargs, METH_NOARGS,
           "Deliver the answers completed since the last call (one wake-up per reactor)."),
    method("_take_async", take_async_noargs, METH_NOARGS,
           "The async requests staged for the loop since the last call: [(handler, request, pending), ...], or None."),
    method("_begin_batch", begin_batch_noargs, METH_NOARGS,
           "The event loop starts a reactor's batch: staged answers schedule no flush until _end_batch."),
    method("_end_batch", end_batch_noargs, METH_NOARGS, "The batch is started: deliver what it staged."),
    method("_stream_notify_fd", stream_notify_fd_py, METH_NOARGS,
           "The eventfd an event loop watches for streamed responses that may go on."),
    method("_stream_ready", stream_ready_py, METH_NOARGS,
           "Futures of async producers that may go on (writable again, or the client is gone)."),
    method("_loop_wakes", loop_wakes_py, METH_NOARGS,
           "(eventfd writes, wake-ups taken after a hosted turn) of the event loop, since start-up."),
    method("_stream_ready_here", stream_ready_here_py, METH_NOARGS,
           "_stream_ready for a loop on a reactor's thread, after a turn that said so: the eventfd is not read."),
    method("set_log_level", set_log_level_py, METH_O, "set_log_level(level): the native log's level."),
    method("log_dropped", log_dropped_py, METH_NOARGS, "Native log lines dropped because stderr did not keep up."),
    method(
        "bind_listeners", fastcall<&bind_listeners>(), fastcall_kw,
        "bind_listeners(host, port, count, backlog): `count` listening sockets (fds) on host:port with SO_REUSEPORT, "
        "after the probe that refuses a port another process serves (the server's own binding, uring/listener.cpp)."),
    method(
        "bind_quic_sockets", fastcall<&bind_quic_sockets>(), fastcall_kw,
        "bind_quic_sockets(host, port, count): `count` UDP sockets (fds) on host:port with SO_REUSEPORT, in the order "
        "they join the port's group (uring/listener.cpp's open_datagram_group: the server's own binding)."),
    method(
        "steer_quic", fastcall<&steer_quic>(), fastcall_kw,
        "steer_quic(fd, total, live=[]): attach the QUIC steering program (quic/steering.hpp) to the SO_REUSEPORT "
        "group of UDP socket `fd`, of `total` sockets: a packet with one of our connection IDs goes to the socket at "
        "position dcid[0] % total, a new client's Initial to one of the `live` positions (empty: any)."),
    method("refuse_new_connections", refuse_new_connections, METH_O,
           "refuse_new_connections(fd): a stop's first step on a listener (uring/listener.cpp): new clients are turned "
           "away while connections under way still reach the accept queue."),
    method("tls_check", tls_py::tls_check, METH_O,
           "Check the ssl_* options (files, key, password) without serving; ValueError naming the problem."),
    method("ktls_unavailable_reason", tls_py::ktls_unavailable_reason, METH_NOARGS,
           "Why the kernel cannot take TLS records over (kTLS); empty when it can."),
    method("ktls_ciphers", tls_py::ktls_ciphers, METH_NOARGS,
           "The ciphers whose sending keys the kernel takes (kTLS), as the probe found them."),
    method("ktls_key_updates", tls_py::ktls_key_updates, METH_NOARGS,
           "Whether the kernel takes new sending keys (a TLS 1.3 KeyUpdate under kTLS), as the probe found."),
    method("_release_startup_pages", release_startup_pages, METH_NOARGS,
           "Unmap the extension's and its libraries' pages no one wrote (they map again when touched); "
           "the bytes of the mappings released."),
    method("probe_io_uring", probe_io_uring, METH_NOARGS,
           "What io_uring offers here: {available, tier, ...} or {error}."),
    methods_end,
};

/// The module's parts, in order; -1 with an exception set when one fails.
int init_module(PyObject* m) {
    // The body of the native 500 (http/problem.hpp), for the 500s the ASGI and WSGI
    // adapters build themselves: one error format, byte for byte.
    ref problem(PyBytes_FromStringAndSize(http::problem_internal_error.data(),
                                          static_cast<Py_ssize_t>(http::problem_internal_error.size())));
    if (!problem || PyModule_AddObjectRef(m, "PROBLEM_INTERNAL_ERROR", problem.get()) < 0 ||
        PyModule_AddFunctions(m, module_defs) < 0 || init_server_type(m) < 0) {
        return -1;
    }
    ref flush(PyObject_GetAttrString(m, "_flush_completions"));
    if (!flush || init_request_type(m) < 0 || init_tls_info_type(m) < 0 || init_value_signer(m) < 0 ||
        init_dependency_fast(m) < 0 || init_wsgi_call(m) < 0 || release_kept_lists_at_exit(m) < 0 ||
        init_asgi_cycle(m, flush.get()) < 0 || init_asgi_call(m) < 0 || init_eager_task(m) < 0 ||
        init_raw_json(m) < 0 || !init_stream_type(m) || !init_websocket(m) || init_forms(m) < 0) {
        return -1;
    }
    return 0;
}

PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    "_native",
    "ringbolt's native core: io_uring reactors, HTTP/1.1, JSON.",
    -1,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

} // namespace ringbolt::py

PyMODINIT_FUNC PyInit__native() {
    ringbolt::py::ref m(PyModule_Create(&ringbolt::py::native_module));
    if (!m || ringbolt::py::init_module(m.get()) < 0) {
        return nullptr;
    }
    return m.release();
}
