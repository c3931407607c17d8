// The cases a request on a stream passes on every protocol that multiplexes them (HTTP/2,
// HTTP/3), written once. Each protocol's test gives a harness H (made fresh per case)
// with: request(path, fields) (a new stream's id), run() (both sides until idle), kept()
// (the connection still serves: no GOAWAY, not closed); cl.answers[id] (.headers, .body,
// .ended as the client saw them) and dispatch.heads (what reached the dispatcher).
#pragma once

#include "http/problem.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ringbolt::test_support {

/// Authorization and Proxy-Authorization are singletons (RFC 9110 §11.6.2, §11.7.2): a
/// stream with either twice is answered 400 with the problem HTTP/1.1 gives, before the
/// dispatcher (nothing reads the first one); the connection serves its next streams.
template <class H> void repeated_credentials_are_400() {
    using fields = std::vector<std::pair<std::string, std::string>>;
    for (const fields& extra : {fields{{"authorization", "Bearer a"}, {"authorization", "Bearer b"}},
                                fields{{"authorization", "Bearer a"}, {"x-a", "1"}, {"authorization", "Bearer a"}},
                                fields{{"proxy-authorization", "Basic a"}, {"proxy-authorization", "Basic b"}}}) {
        H h;
        auto bad = h.request("/native", extra);
        auto fine = h.request("/native", {{"authorization", "Bearer a"}, {"proxy-authorization", "Basic b"}});
        h.run();
        auto& a = h.cl.answers[bad];
        EXPECT_EQ(a.headers[":status"], "400") << extra[0].first;
        EXPECT_EQ(a.headers["content-type"], "application/problem+json");
        EXPECT_EQ(a.body, http::problem_of(http::http_error::repeated_credentials));
        EXPECT_TRUE(a.ended);
        EXPECT_EQ(h.cl.answers[fine].body, "native");
        ASSERT_EQ(h.dispatch.heads.size(), 1u); // only the fine one reached the dispatcher
        EXPECT_NE(h.dispatch.heads[0].find("authorization: Bearer a\r\n"), std::string::npos);
        EXPECT_TRUE(h.kept());
    }
}

} // namespace ringbolt::test_support
