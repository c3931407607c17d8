// The reactor's and the dispatcher's side of a protocol under test (see the header).
#include "tests/support/protocol_harness.hpp"

#include <cstdio>
#include <cstdlib>
#include <sys/uio.h>
#include <unistd.h>

namespace ringbolt::test_support {

http::protocol_env make_env(const http::connection_limits& limits, uint32_t now_s, core::core_counters& counters,
                            http::dispatcher& dispatch, size_t output_limit) {
    return http::protocol_env{limits, test_date, now_s, false, counters, dispatch, output_limit};
}

void drain_output(core::output_queue& q, std::string& wire) {
    core::send_batch batch;
    while (q.take_front(batch, 64, SIZE_MAX)) {
        if (batch.is_file()) {
            const core::segment& s = batch.front();
            uint64_t at = s.file_offset + s.done;
            uint64_t left = s.length - s.done;
            size_t before = wire.size();
            wire.resize(before + left);
            while (left > 0) {
                ssize_t n = ::pread(s.file->fd, wire.data() + wire.size() - left, left, static_cast<off_t>(at));
                if (n <= 0) {
                    // The file shrank under the test: what sendfile would fail on.
                    std::fprintf(stderr, "protocol_harness: pread of a queued file range failed\n");
                    std::abort();
                }
                at += static_cast<uint64_t>(n);
                left -= static_cast<uint64_t>(n);
            }
        } else {
            iovec iov[64];
            size_t n = batch.iovecs(iov, 64);
            for (size_t i = 0; i < n; ++i) {
                wire.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
            }
        }
        batch.consume(batch.remaining());
        batch.reset();
    }
}

std::string take_output(core::output_queue& q) {
    std::string wire;
    drain_output(q, wire);
    return wire;
}

http::dispatcher::verdict answer_or_keep(http::protocol& conn, const http::request_event& ev, http::protocol_env& env,
                                         std::vector<uint64_t>& to_app) {
    if (ev.head.path.starts_with("/n")) {
        conn.respond(ev.seq, ev.ctx, 200, "Content-Type: text/plain\r\n", native_body, env);
        return http::dispatcher::verdict::answered;
    }
    to_app.push_back(ev.seq);
    return http::dispatcher::verdict::to_app;
}

http::dispatcher::verdict keeping_dispatcher::on_request(http::protocol& conn, const http::request_event& ev,
                                                         http::protocol_env& env,
                                                         std::shared_ptr<http::body_stream>& stream) {
    if (features != nullptr) {
        std::string request_id;
        std::string reason;
        http::decorate_request(*features, ev.head, ev.ctx, request_id, reason); // Accept-Encoding -> ctx.coding
    }
    check(seen.insert(ev.seq).second, "(c) a request reported twice");
    if (ev.body_follows) {
        if (!stream_bodies) {
            seen.erase(ev.seq); // reported again when the whole body is in
            return verdict::buffer;
        }
        auto body = std::make_shared<counted_body>();
        bodies[ev.seq] = body;
        stream = body;
        pending.push_back(ev.seq);
        return verdict::streaming;
    }
    return answer_or_keep(conn, ev, env, pending);
}

bool keeping_dispatcher::took_body(http::app_response& m) {
    if (pending.empty()) {
        return false;
    }
    if (auto it = bodies.find(pending.front()); it != bodies.end()) {
        it->second->taken = it->second->pushed;
    }
    m.seq = pending.front();
    m.parts = http::app_response::part_read_more;
    return true;
}

} // namespace ringbolt::test_support
