// A backend wrapper for tests: it runs the real kernel backend (io_uring or epoll) but
// can hold completions back, so a test can force an interleaving the kernel only produces
// now and then under load. Installed through server_config::wrap_backend.
//
// What it holds today: the end of a recv the reactor asked to cancel (a pause, a close),
// however it ended: recv_end::cancelled, or rearm when the kernel ended the multishot
// with its last data instead. While the hold is on, those ends are kept; once it is off
// they are delivered, first thing in the next wait, in the order they came. The reactor
// meanwhile believes the cancel is in flight.
#pragma once

#include "uring/backend.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace ringbolt::uring::testing {

/// Shared between the test thread and the reactor thread that owns the backend.
struct fault_control {
    std::atomic<bool> hold_cancel_ends{false};
    std::atomic<int> cancel_ends_held{0};      ///< how many were kept back (ever)
    std::atomic<int> cancel_ends_delivered{0}; ///< how many of those were delivered later
};

class fault_backend final : public io_backend {
  public:
    fault_backend(std::unique_ptr<io_backend> inner, std::shared_ptr<fault_control> control)
        : _inner(std::move(inner)), _control(std::move(control)), _shim(*this) {}

    result<void> setup(const server_config& config, int wake_fd) noexcept override {
        _inner->counters = counters;
        return _inner->setup(config, wake_fd);
    }
    void arm_accept(int listen_fd) noexcept override { _inner->arm_accept(listen_fd); }
    void cancel_accept(int listen_fd) noexcept override { _inner->cancel_accept(listen_fd); }
    void arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept override { _inner->arm_recv(fd, slot, gen); }
    void cancel_recv(int fd, uint32_t slot, uint16_t gen) noexcept override {
        _cancelling.push_back({slot, gen, recv_end::cancelled});
        _inner->cancel_recv(fd, slot, gen);
    }
    void send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg) noexcept override {
        _inner->send(fd, slot, gen, msg);
    }
    void poll_writable(int fd, uint32_t slot, uint16_t gen) noexcept override { _inner->poll_writable(fd, slot, gen); }
    void forget(int fd) noexcept override { _inner->forget(fd); }
    const char* name() const noexcept override { return _inner->name(); }

    bool wait(unsigned timeout_ms, io_events& events) noexcept override {
        if (!_control->hold_cancel_ends.load() && !_held.empty()) {
            std::vector<held_end> due;
            due.swap(_held);
            for (const auto& h : due) {
                _control->cancel_ends_delivered.fetch_add(1);
                events.on_recv_end(h.slot, h.gen, h.how);
            }
            timeout_ms = 0; // events were dispatched this turn: do not sleep on top
        }
        _shim.target = &events;
        return _inner->wait(timeout_ms, _shim);
    }

  private:
    struct held_end {
        uint32_t slot;
        uint16_t gen;
        recv_end how;
    };

    /// True (and forgotten) when this end is that of a recv the reactor cancelled.
    bool cancelled_recv_ended(uint32_t slot, uint16_t gen) noexcept {
        for (size_t i = 0; i < _cancelling.size(); ++i) {
            if (_cancelling[i].slot == slot && _cancelling[i].gen == gen) {
                _cancelling.erase(_cancelling.begin() + static_cast<std::ptrdiff_t>(i));
                return true;
            }
        }
        return false;
    }

    // Sits between the inner backend and the reactor: forwards every completion except
    // the ones being held.
    class shim final : public io_events {
      public:
        explicit shim(fault_backend& owner) : _owner(owner) {}
        io_events* target = nullptr;
        void on_accept(int fd) noexcept override { target->on_accept(fd); }
        void on_accept_end(int res) noexcept override { target->on_accept_end(res); }
        void on_recv(uint32_t slot, uint16_t gen, const char* data, size_t len) noexcept override {
            target->on_recv(slot, gen, data, len);
        }
        void on_recv_end(uint32_t slot, uint16_t gen, recv_end how) noexcept override {
            if (_owner.cancelled_recv_ended(slot, gen) && _owner._control->hold_cancel_ends.load()) {
                _owner._held.push_back({slot, gen, how});
                _owner._control->cancel_ends_held.fetch_add(1);
                return;
            }
            target->on_recv_end(slot, gen, how);
        }
        void on_send(uint32_t slot, uint16_t gen, int res) noexcept override { target->on_send(slot, gen, res); }
        void on_writable(uint32_t slot, uint16_t gen, int res) noexcept override {
            target->on_writable(slot, gen, res);
        }

      private:
        fault_backend& _owner;
    };

    std::unique_ptr<io_backend> _inner;
    std::shared_ptr<fault_control> _control;
    std::vector<held_end> _held;       ///< reactor thread only
    std::vector<held_end> _cancelling; ///< recvs cancelled, their end not yet seen
    shim _shim;
};

} // namespace ringbolt::uring::testing
