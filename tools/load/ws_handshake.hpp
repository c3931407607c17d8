// Owns: the client side of the RFC 6455 §4 opening handshake for ringbolt-ws-load —
// the upgrade request and the check of the server's 101 answer (Sec-WebSocket-Accept
// is SHA-1 + base64, implemented here so the tool needs no crypto library).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringbolt_load {

// base64 of 16 random bytes, as Sec-WebSocket-Key wants (RFC 6455 §4.1).
std::string ws_make_key(uint64_t random_hi, uint64_t random_lo);

// What the server must answer for key: base64(SHA-1(key + the RFC's GUID)).
std::string ws_accept_for(const std::string& key);

// GET path HTTP/1.1 with Upgrade, Connection, Sec-WebSocket-Key/-Version. host_header is
// the Host value (with the port when not 80).
std::string ws_upgrade_request(const std::string& path, const std::string& host_header, const std::string& key);

enum class ws_handshake_result : uint8_t {
    incomplete, // the head has not ended yet
    ok,         // 101 with the right Upgrade, Connection and Sec-WebSocket-Accept
    bad_status, // not 101 (e.g. 403, 404)
    bad_accept, // a missing or wrong Sec-WebSocket-Accept
    bad_header, // Upgrade / Connection missing, or an extension we did not offer
    too_long,   // no end of head within the limit
};

// Checks the response head at the start of [data, data+len). On ok, *head_len is its
// length; what follows it already belongs to the WebSocket stream.
ws_handshake_result ws_check_response(const char* data, size_t len, const std::string& expected_accept,
                                      size_t* head_len);

const char* ws_handshake_error_name(ws_handshake_result r) noexcept;

} // namespace ringbolt_load
