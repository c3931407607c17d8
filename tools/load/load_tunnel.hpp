// Owns: what the load tools' HTTP/2 and HTTP/3 client connections ask of a stream that
// stays open after its answer's head (an extended CONNECT: RFC 8441, RFC 9220), and
// what they tell it. The connection owns the stream; the tunnel owns what flows on it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringbolt_load {

class load_tunnel {
  public:
    virtual ~load_tunnel() = default;
    // The answer's head ended with this status. False: not an accept; the stream is reset.
    virtual bool head(int status, int64_t now) = 0;
    // DATA payload of the answer. False: it broke the protocol inside; the stream is reset.
    virtual bool data(const uint8_t* p, size_t len, int64_t now) = 0;
    // Hands out up to max chunks to send now (pointers stay valid until acked() releases
    // them or the tunnel is destroyed); returns how many. 0: nothing now.
    virtual size_t next_output(const uint8_t** p, size_t* len, size_t max, int64_t now) = 0;
    // Has something to send now (the connection resumes the stream's writer).
    virtual bool wants_output(int64_t now) const = 0;
    // The first n bytes handed out are no longer needed (acked, or copied by the library).
    virtual void acked(size_t n) = 0;
    // The stream is over: the server ended or reset it, or the connection died (reset),
    // or it was cancelled past deadline() (timed_out).
    virtual void ended(bool reset, bool timed_out, int64_t now) = 0;
    // The run is over: the stream goes with its connection.
    virtual void run_over() = 0;
    // When the connection gives up on the stream (INT64_MAX: no deadline now).
    virtual int64_t deadline() const = 0;
};

} // namespace ringbolt_load
