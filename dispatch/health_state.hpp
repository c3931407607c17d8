// What the health probes answer (/health/live, /health/ready, /health/startup): the
// process's state as three facts the Python side sets (started, draining, the user checks'
// last results) and the reactors read per probe, natively: a probe never enters Python.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace ringbolt::dispatch {

enum class probe_kind : uint8_t {
    live,    ///< 200 while a reactor answers: answering is the liveness
    ready,   ///< 200 when started, not draining and every user check passed
    startup, ///< 503 until the startup hooks and lifespan have completed, then 200
};

/// A probe's answer: its status and its JSON body.
struct probe_answer {
    uint16_t status = 200;
    std::string body;
};

inline constexpr std::string_view probe_fields = "Content-Type: application/json\r\nCache-Control: no-store\r\n";

/// One per server, shared by its reactors (app_routes::health). Setters are called from
/// any thread (the serving thread, a signal handler's, the checks' thread); answer() from
/// the reactors. The flags are atomics; the checks' JSON changes only when a result
/// changes and sits behind a mutex a probe holds for one copy.
class health_state {
  public:
    void set_started() noexcept { _started.store(true, std::memory_order_release); }
    void set_draining() noexcept { _draining.store(true, std::memory_order_release); }
    /// The user checks' last results: `passed` when every one passed; `checks_json` a JSON
    /// object naming each check's result (`{"db":"ok"}`), shown in the ready probe's body.
    void set_checks(bool passed, std::string checks_json);

    bool started() const noexcept { return _started.load(std::memory_order_acquire); }
    bool draining() const noexcept { return _draining.load(std::memory_order_acquire); }
    bool checks_passed() const noexcept { return _checks_passed.load(std::memory_order_acquire); }

    probe_answer answer(probe_kind kind) const;

  private:
    std::atomic<bool> _started{false};
    std::atomic<bool> _draining{false};
    std::atomic<bool> _checks_passed{true}; ///< true: no checks, or all passed
    mutable std::mutex _checks_mutex;
    std::string _checks_json; ///< empty: no checks reported
};

/// "live", "ready" or "startup"; false for anything else.
bool parse_probe_kind(std::string_view name, probe_kind& out) noexcept;

} // namespace ringbolt::dispatch
