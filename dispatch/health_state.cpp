// The health probes' answers from the state the server keeps (see health_state.hpp).
#include "dispatch/health_state.hpp"

#include <utility>

namespace ringbolt::dispatch {

void health_state::set_checks(bool passed, std::string checks_json) {
    std::lock_guard<std::mutex> lock(_checks_mutex);
    _checks_json = std::move(checks_json);
    _checks_passed.store(passed, std::memory_order_release);
}

probe_answer health_state::answer(probe_kind kind) const {
    probe_answer a;
    std::string_view reason;
    std::string_view checks;
    std::unique_lock<std::mutex> lock(_checks_mutex, std::defer_lock);
    switch (kind) {
    case probe_kind::live:
        break;
    case probe_kind::startup:
        reason = started() ? std::string_view{} : "starting";
        break;
    case probe_kind::ready:
        lock.lock(); // the checks' verdict and their JSON read together
        checks = _checks_json;
        // Draining first: a load balancer must stop sending at once, whatever the checks say.
        reason = draining()                                        ? "draining"
                 : !started()                                      ? "starting"
                 : !_checks_passed.load(std::memory_order_relaxed) ? "checks"
                                                                   : std::string_view{};
        break;
    }
    a.status = reason.empty() ? 200 : 503;
    a.body.reserve(48 + checks.size());
    if (reason.empty()) {
        a.body.append(R"({"status":"ok")");
    } else {
        a.body.append(R"({"status":"unavailable","reason":")").append(reason).append("\"");
    }
    if (!checks.empty()) {
        a.body.append(R"(,"checks":)").append(checks);
    }
    a.body.append("}");
    return a;
}

bool parse_probe_kind(std::string_view name, probe_kind& out) noexcept {
    if (name == "live") {
        out = probe_kind::live;
    } else if (name == "ready") {
        out = probe_kind::ready;
    } else if (name == "startup") {
        out = probe_kind::startup;
    } else {
        return false;
    }
    return true;
}

} // namespace ringbolt::dispatch
