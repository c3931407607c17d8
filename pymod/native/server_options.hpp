#pragma once
// The server's options as App.run and `ringbolt serve` give them (a dict): each read
// into its native field, a value the field cannot hold refused with an error naming the
// option.

#include "pymod/native/py_call.hpp"

#include "http/protocol.hpp"
#include "http/response_framer.hpp"
#include "quic/tls_session.hpp"
#include "server/server_config.hpp"
#include "tls/context.hpp"

#include <memory>
#include <string>

namespace ringbolt::py {

// Each reads the options dict `c` (borrowed); get_opt (py_call.hpp) names a bad option.

/// `server_header` (bool), `date_header` (bool) and `headers` ([(name, value), ...]):
/// what the framer adds to every response. A `Server` among `headers` replaces ours.
void read_server_fields(PyObject* c, http::server_fields& f);

/// QUIC's GnuTLS credentials from the TLS listener's files; ValueError naming them.
std::shared_ptr<const quic::tls_credentials> load_quic_credentials(const tls::options& tls_options,
                                                                   const quic::resumption& r);

/// `http3` and its limits (`http3_max_streams`, `http3_idle_timeout` in seconds,
/// `http3_stream_window`, `http3_connection_window` in bytes, `http3_retry_above` Initials
/// a second, 0: always Retry, `http3_max_half_open` connections in their handshake past
/// which new clients are sent a Retry): QUIC on the UDP port of the
/// HTTPS listener, with GnuTLS credentials from the same certificate and key files.
void read_http3(PyObject* c, bool tls_on, const tls::options& tls_options, server::http3_config& h3);

/// `http` ("auto", "1", "2"; 1 and 2 as ints too) and the older `http2` switch (False:
/// HTTP/1.1 only): which HTTP versions the listeners speak. ValueError for another
/// value, or for `http="2"` with `http2=False`.
http::http_versions read_http_versions(PyObject* c);
/// The server's plain options (address, threads, limits, timeouts, scheduling, the
/// backend, buffers, caps) into `cfg`, and the two environment settings
/// (RINGBOLT_STANDIN_AFTER_MS, RINGBOLT_IO). Errors name the option or the variable.
void read_server_config(PyObject* c, server::server_config& cfg);

} // namespace ringbolt::py
