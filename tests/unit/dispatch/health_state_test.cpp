// Tests for dispatch/health_state: every probe's answer over the states the server can be
// in (a table), and probes read while another thread changes the state.
#include "dispatch/health_state.hpp"

#include <atomic>
#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <thread>

using namespace ringbolt::dispatch;
using namespace std::literals;

namespace {

struct state_case {
    bool started;
    bool draining;
    bool checks_passed;
    probe_kind kind;
    uint16_t status;
    std::string_view body;
};

constexpr std::string_view checks_ok = R"({"db":"ok"})";
constexpr std::string_view checks_bad = R"({"db":"failing"})";

constexpr state_case state_cases[] = {
    {false, false, true, probe_kind::live, 200, R"({"status":"ok"})"},
    {false, false, true, probe_kind::startup, 503, R"({"status":"unavailable","reason":"starting"})"},
    {false, false, true, probe_kind::ready, 503,
     R"({"status":"unavailable","reason":"starting","checks":{"db":"ok"}})"},
    {true, false, true, probe_kind::live, 200, R"({"status":"ok"})"},
    {true, false, true, probe_kind::startup, 200, R"({"status":"ok"})"},
    {true, false, true, probe_kind::ready, 200, R"({"status":"ok","checks":{"db":"ok"}})"},
    {true, false, false, probe_kind::ready, 503,
     R"({"status":"unavailable","reason":"checks","checks":{"db":"failing"}})"},
    {true, false, false, probe_kind::live, 200, R"({"status":"ok"})"},
    {true, false, false, probe_kind::startup, 200, R"({"status":"ok"})"},
    {true, true, true, probe_kind::ready, 503, R"({"status":"unavailable","reason":"draining","checks":{"db":"ok"}})"},
    {true, true, false, probe_kind::ready, 503,
     R"({"status":"unavailable","reason":"draining","checks":{"db":"failing"}})"},
    {true, true, true, probe_kind::live, 200, R"({"status":"ok"})"},
    {true, true, true, probe_kind::startup, 200, R"({"status":"ok"})"},
};

TEST(HealthState, AnswersFollowTheState) {
    for (const state_case& c : state_cases) {
        health_state h;
        if (c.started) {
            h.set_started();
        }
        if (c.draining) {
            h.set_draining();
        }
        h.set_checks(c.checks_passed, std::string(c.checks_passed ? checks_ok : checks_bad));
        probe_answer a = h.answer(c.kind);
        EXPECT_EQ(a.status, c.status) << c.body;
        EXPECT_EQ(a.body, c.body);
    }
}

TEST(HealthState, NoChecksMeansNoChecksMember) {
    health_state h;
    h.set_started();
    EXPECT_EQ(h.answer(probe_kind::ready).body, R"({"status":"ok"})");
    EXPECT_EQ(h.answer(probe_kind::ready).status, 200);
}

TEST(HealthState, ProbeKindNames) {
    struct row {
        std::string_view name;
        bool ok;
        probe_kind kind;
    };
    for (const row& r : {row{"live", true, probe_kind::live}, row{"ready", true, probe_kind::ready},
                         row{"startup", true, probe_kind::startup}, row{"Live", false, probe_kind::live},
                         row{"", false, probe_kind::live}, row{"readiness", false, probe_kind::live}}) {
        probe_kind k = probe_kind::live;
        EXPECT_EQ(parse_probe_kind(r.name, k), r.ok) << r.name;
        if (r.ok) {
            EXPECT_EQ(k, r.kind) << r.name;
        }
    }
}

// The checks' thread sets results while reactors answer probes (a TSan case: `make tsan`).
TEST(HealthState, ProbesWhileChecksChange) {
    health_state h;
    h.set_started();
    h.set_checks(true, std::string(checks_ok)); // as the server sets them before it serves (pending_checks)
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        for (int i = 0; i < 2000; ++i) {
            bool ok = i % 2 == 0;
            h.set_checks(ok, std::string(ok ? checks_ok : checks_bad));
        }
        stop.store(true);
    });
    int answers = 0;
    while (!stop.load() || answers == 0) {
        probe_answer a = h.answer(probe_kind::ready);
        // The verdict and the JSON are read together: the status always matches the body.
        std::string_view want = a.status == 200
                                    ? R"({"status":"ok","checks":{"db":"ok"}})"
                                    : R"({"status":"unavailable","reason":"checks","checks":{"db":"failing"}})";
        EXPECT_EQ(a.body, want);
        ++answers;
    }
    writer.join();
    h.set_checks(true, std::string(checks_ok));
    EXPECT_EQ(h.answer(probe_kind::ready).status, 200);
}

} // namespace
