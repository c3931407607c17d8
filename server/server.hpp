// A server: the listeners and one reactor thread per core. Binding happens in the
// caller's thread so "address in use" is reported at once; each ring is created on
// its own reactor thread (SINGLE_ISSUER) and start() waits until all are ready.
#pragma once

#include "core/result.hpp"
#include "server/reactor.hpp"
#include "server/request_limit.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ringbolt::server {

class server final : public dispatch::metrics_source {
  public:
    server(server_config config, std::shared_ptr<const dispatch::app_routes> routes, app_handler& app);
    ~server() override;
    /// Prometheus text exposition of every core's counters and the route histograms.
    void render(std::string& out) const override;

    /// Bind, start the reactors, and wait for their rings. On failure everything
    /// started is stopped again and `error_message()` says why.
    core::result<void> start();
    /// Drain and stop (any thread, idempotent).
    void stop() noexcept;
    /// Wait for the reactor threads to exit.
    void join();
    /// Wait up to `ms` for every reactor to exit; true when they all have.
    bool wait_exit(int ms);

    uint16_t port() const noexcept { return _port; }
    unsigned threads() const noexcept { return static_cast<unsigned>(_reactors.size()); }
    const std::string& io_description() const noexcept { return _io_description; }
    const server_config& config() const noexcept { return _config; }
    const std::string& error_message() const noexcept { return _error; }
    /// server_config::max_requests was reached: the server drains (any thread).
    bool request_limit_reached() const noexcept { return _request_limit.reached(); }
    /// Requests the reactors counted towards max_requests (as of their last turns).
    uint64_t requests_counted() const noexcept { return _request_limit.served(); }
    const std::vector<std::unique_ptr<reactor>>& reactors() const noexcept { return _reactors; }

  private:
    server_config _config;
    std::shared_ptr<const dispatch::app_routes> _routes;
    app_handler& _app;
    std::vector<std::unique_ptr<reactor>> _reactors;
    std::vector<std::thread> _threads;
    uint16_t _port = 0;
    std::string _io_description;
    std::string _error;
    std::mutex _exit_mutex;
    std::condition_variable _exit_cv;
    unsigned _exited = 0;
    std::atomic<uint32_t> _app_pending{0};
    request_limit _request_limit{_config.max_requests, [this] { stop(); }}; ///< after _config
    bool _metrics_on = false;
};

} // namespace ringbolt::server
