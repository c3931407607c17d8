// app_request: moves and copies carry every field and the set route parameters (only
// those are written: the rest of the parameters' room is never read).
#include "dispatch/app_request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace ringbolt::http {
namespace {

dispatch::app_request filled(uint8_t params) {
    dispatch::app_request r;
    r.conn_slot = 7;
    r.conn_gen = 9;
    r.seq = 1234567890123ULL;
    r.handler = 3;
    r.route_id = 4;
    r.start_ns = 55;
    r.data = "GET /items/42/blue HTTP/1.1\r\nHost: t\r\n\r\n";
    r.method = {0, 3};
    r.target = {4, 14};
    r.path = {4, 14};
    r.method_id = 1;
    r.version_minor = 0;
    r.keep_alive = false;
    r.head_request = true;
    r.websocket = true;
    r.https = true;
    r.headers = {{29, 4}, {35, 1}};
    r.peer.family = 2;
    r.peer.port = 4242;
    r.peer.addr[0] = 127;
    r.forwarded_host = {1, 2};
    r.request_id = {3, 4};
    r.num_params = params;
    for (uint8_t i = 0; i < params; ++i) {
        r.params[i] = {dispatch::param_type::integer, {static_cast<uint32_t>(11 + i), 2}, 100 + i};
    }
    return r;
}

void expect_same(const dispatch::app_request& a, const dispatch::app_request& b) {
    EXPECT_EQ(a.conn_slot, b.conn_slot);
    EXPECT_EQ(a.conn_gen, b.conn_gen);
    EXPECT_EQ(a.seq, b.seq);
    EXPECT_EQ(a.handler, b.handler);
    EXPECT_EQ(a.route_id, b.route_id);
    EXPECT_EQ(a.start_ns, b.start_ns);
    EXPECT_EQ(a.data, b.data);
    EXPECT_EQ(a.target.in(a.data), b.target.in(b.data));
    EXPECT_EQ(a.method_id, b.method_id);
    EXPECT_EQ(a.version_minor, b.version_minor);
    EXPECT_EQ(a.keep_alive, b.keep_alive);
    EXPECT_EQ(a.head_request, b.head_request);
    EXPECT_EQ(a.websocket, b.websocket);
    EXPECT_EQ(a.https, b.https);
    ASSERT_EQ(a.headers.size(), b.headers.size());
    EXPECT_EQ(a.headers[0].off, b.headers[0].off);
    EXPECT_EQ(a.peer.port, b.peer.port);
    EXPECT_EQ(a.peer.addr[0], b.peer.addr[0]);
    EXPECT_EQ(a.forwarded_host.len, b.forwarded_host.len);
    EXPECT_EQ(a.request_id.off, b.request_id.off);
    ASSERT_EQ(a.num_params, b.num_params);
    for (uint8_t i = 0; i < a.num_params; ++i) {
        EXPECT_EQ(a.params[i].type, b.params[i].type);
        EXPECT_EQ(a.params[i].raw.off, b.params[i].raw.off);
        EXPECT_EQ(a.params[i].raw.len, b.params[i].raw.len);
        EXPECT_EQ(a.params[i].int_value, b.params[i].int_value);
    }
}

TEST(AppRequest, MovesAndCopiesCarryFieldsAndSetParams) {
    for (uint8_t n : {uint8_t{0}, uint8_t{1}, uint8_t{2}, static_cast<uint8_t>(dispatch::max_route_params)}) {
        const dispatch::app_request want = filled(n);
        dispatch::app_request copied(want);
        expect_same(copied, want);
        dispatch::app_request moved(std::move(copied));
        expect_same(moved, want);
        // Assigned over an entry that held other parameters (a kept entry reused).
        dispatch::app_request assigned = filled(static_cast<uint8_t>(dispatch::max_route_params));
        assigned.params[0].int_value = -1;
        assigned = std::move(moved);
        expect_same(assigned, want);
        dispatch::app_request copy_assigned = filled(1);
        copy_assigned = want;
        expect_same(copy_assigned, want);
    }
}

TEST(AppRequest, RouteParametersFollowTheOtherFields) {
    // A request without parameters is written and moved in the fields' lines alone.
    dispatch::app_request r;
    auto at = reinterpret_cast<const char*>(&r.params[0]) - reinterpret_cast<const char*>(&r);
    EXPECT_GE(static_cast<size_t>(at), sizeof(dispatch::app_request_fields));
    EXPECT_LE(sizeof(dispatch::app_request_fields), 4 * 64u);
}

} // namespace
} // namespace ringbolt::http
