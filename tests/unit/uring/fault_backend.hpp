// A backend wrapper for tests: it runs the real kernel backend (io_uring or epoll) but
// can hold completions back, so a test can force an interleaving the kernel only produces
// now and then under load. Installed through server_config::wrap_backend.
//
// What it can do:
// - hold the end of a recv the reactor asked to cancel (a pause, a close), however it
//   ended: recv_end::cancelled, or rearm when the kernel ended the multishot with its last
//   data instead. While `hold_cancel_ends` is on, those ends are kept; once it is off they
//   are delivered, first thing in the next wait, in the order they came. With
//   `random_hold_turns` > 0 each such end is instead held for a random 0..N waits. The
//   reactor meanwhile believes the cancel is in flight.
// - split each received chunk into up to three on_recv calls at random points
//   (`split_recvs`), as a kernel under memory pressure or a dry buffer ring does.
// - lose the end (EOF or error) of up to `lose_recv_ends` recvs the reactor did not
//   cancel, as the kernel's multishot recv race does: the reactor goes on believing the
//   recv armed. Cancelling such a recv later ends it with recv_end::cancelled (the kernel
//   would: its recv is still there), in the next wait.
#pragma once

#include "uring/backend.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

namespace ringbolt::uring::test_support {

/// Shared between the test thread and the reactor thread that owns the backend.
struct fault_control {
    uint64_t seed = 1;            ///< for the random faults (set before the server starts)
    int random_hold_turns = 0;    ///< > 0: hold each cancelled recv's end 0..N waits
    bool split_recvs = false;     ///< deliver received chunks in random pieces
    std::atomic<int> backends{0}; ///< backends made (each seeds its generator apart)
    std::atomic<int> recvs_split{0};
    std::atomic<int> cancel_ends_seen{0}; ///< ends of cancelled recvs, held or not
    std::atomic<bool> hold_cancel_ends{false};
    std::atomic<int> cancel_ends_held{0};      ///< how many were kept back (ever)
    std::atomic<int> cancel_ends_delivered{0}; ///< how many of those were delivered later
    std::atomic<int> lose_recv_ends{0};        ///< EOF/error ends still to lose
    std::atomic<int> recv_ends_lost{0};
    std::atomic<int> lost_recvs_cancelled{0}; ///< cancels of a recv whose end was lost
};

class fault_backend final : public io_backend {
  public:
    fault_backend(std::unique_ptr<io_backend> inner, std::shared_ptr<fault_control> control)
        : _inner(std::move(inner)), _control(std::move(control)),
          _rng(_control->seed * 1000003u + static_cast<uint64_t>(_control->backends.fetch_add(1))), _shim(*this) {}

    core::result<void> setup(const backend_config& config, int wake_fd) noexcept override {
        _inner->counters = counters;
        return _inner->setup(config, wake_fd);
    }
    void arm_accept(int listen_fd) noexcept override { _inner->arm_accept(listen_fd); }
    long recv_now(int fd, void* buf, size_t len, int flags) noexcept override {
        return _inner->recv_now(fd, buf, len, flags);
    }
    short poll_now(int fd, short events) noexcept override { return _inner->poll_now(fd, events); }
    long send_file(int fd, int file_fd, int64_t* offset, size_t len) noexcept override {
        return _inner->send_file(fd, file_fd, offset, len);
    }
    void shutdown_socket(int fd, int how) noexcept override { _inner->shutdown_socket(fd, how); }
    int unacked_bytes(int fd) noexcept override { return _inner->unacked_bytes(fd); }
    void raise_receive_buffer(int fd, int option, int bytes) noexcept override {
        _inner->raise_receive_buffer(fd, option, bytes);
    }
    void accept_queued(int listen_fd, unsigned max, io_events& events) noexcept override {
        _inner->accept_queued(listen_fd, max, events);
    }
    void cancel_accept(int listen_fd) noexcept override { _inner->cancel_accept(listen_fd); }
    void arm_recv(int fd, uint32_t slot, uint16_t gen) noexcept override { _inner->arm_recv(fd, slot, gen); }
    bool arm_recv_into(int fd, uint32_t slot, uint16_t gen, std::span<char> room) noexcept override {
        return _inner->arm_recv_into(fd, slot, gen, room);
    }
    bool can_recv_into() const noexcept override { return _inner->can_recv_into(); }
    void cancel_recv(int fd, uint32_t slot, uint16_t gen) noexcept override {
        if (take(_lost, slot, gen)) { // the inner recv is over already
            _control->lost_recvs_cancelled.fetch_add(1);
            _lost_cancelled.push_back({slot, gen, recv_end::cancelled, 0});
            return;
        }
        _cancelling.push_back({slot, gen, recv_end::cancelled, 0});
        _inner->cancel_recv(fd, slot, gen);
    }
    void send(int fd, uint32_t slot, uint16_t gen, const msghdr* msg, bool more) noexcept override {
        _inner->send(fd, slot, gen, msg, more);
    }
    void poll_writable(int fd, uint32_t slot, uint16_t gen) noexcept override { _inner->poll_writable(fd, slot, gen); }
    void forget(int fd) noexcept override { _inner->forget(fd); }
    const char* name() const noexcept override { return _inner->name(); }
    bool submit() noexcept override { return _inner->submit() || !_lost_cancelled.empty() || !_held.empty(); }
    int poll_fd() const noexcept override { return _inner->poll_fd(); }

    bool wait(unsigned timeout_ms, io_events& events) noexcept override {
        if (!_lost_cancelled.empty()) {
            std::vector<held_end> due;
            due.swap(_lost_cancelled);
            for (const auto& h : due) {
                events.on_recv_end(h.slot, h.gen, h.how);
            }
            timeout_ms = 0;
        }
        if (!_control->hold_cancel_ends.load() && !_held.empty()) {
            std::vector<held_end> due;
            std::vector<held_end> still;
            for (auto& h : _held) {
                (h.turns_left-- <= 0 ? due : still).push_back(h);
            }
            _held.swap(still);
            for (const auto& h : due) {
                _control->cancel_ends_delivered.fetch_add(1);
                events.on_recv_end(h.slot, h.gen, h.how);
            }
            // Held ends count turns: do not sleep on top of events dispatched or while
            // ends wait for their turn.
            timeout_ms = due.empty() ? 1 : 0;
        }
        _shim.target = &events;
        return _inner->wait(timeout_ms, _shim);
    }

  private:
    struct held_end {
        uint32_t slot;
        uint16_t gen;
        recv_end how;
        int turns_left = 0;
    };

    /// True (and removed from `list`) when `list` holds this slot's recv.
    static bool take(std::vector<held_end>& list, uint32_t slot, uint16_t gen) noexcept {
        for (size_t i = 0; i < list.size(); ++i) {
            if (list[i].slot == slot && list[i].gen == gen) {
                list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
                return true;
            }
        }
        return false;
    }

    /// True (and forgotten) when this end is that of a recv the reactor cancelled.
    bool cancelled_recv_ended(uint32_t slot, uint16_t gen) noexcept { return take(_cancelling, slot, gen); }

    // Sits between the inner backend and the reactor: forwards every completion except
    // the ones being held.
    class shim final : public io_events {
      public:
        explicit shim(fault_backend& owner) : _owner(owner) {}
        io_events* target = nullptr;
        void on_wait_end() noexcept override { target->on_wait_end(); }
        void on_accept(int fd) noexcept override { target->on_accept(fd); }
        void on_accept_end(int res) noexcept override { target->on_accept_end(res); }
        void on_recv(uint32_t slot, uint16_t gen, const char* data, size_t len) noexcept override {
            if (_owner._control->split_recvs && len > 1) {
                // Up to three pieces; the reactor may close the slot between them (it then
                // drops the rest as a late completion, as it would the kernel's).
                size_t a = static_cast<size_t>(_owner._rng() % len);
                size_t b = a + static_cast<size_t>(_owner._rng() % (len - a));
                _owner._control->recvs_split.fetch_add(1);
                for (auto [from, to] : {std::pair{size_t{0}, a}, std::pair{a, b}, std::pair{b, len}}) {
                    if (to > from) {
                        target->on_recv(slot, gen, data + from, to - from);
                    }
                }
                return;
            }
            target->on_recv(slot, gen, data, len);
        }
        void on_recv_into(uint32_t slot, uint16_t gen, size_t len) noexcept override {
            // A receive into a body ends with its bytes (no recv end follows), cancelled or not.
            (void)_owner.cancelled_recv_ended(slot, gen);
            target->on_recv_into(slot, gen, len);
        }
        void on_recv_end(uint32_t slot, uint16_t gen, recv_end how) noexcept override {
            if (_owner.cancelled_recv_ended(slot, gen)) {
                _owner._control->cancel_ends_seen.fetch_add(1);
                const fault_control& c = *_owner._control;
                int turns = c.random_hold_turns > 0 ? static_cast<int>(_owner._rng() % (c.random_hold_turns + 1)) : 0;
                if (c.hold_cancel_ends.load() || turns > 0) {
                    _owner._held.push_back({slot, gen, how, turns});
                    _owner._control->cancel_ends_held.fetch_add(1);
                    return;
                }
            } else if ((how == recv_end::eof || how == recv_end::error) && _owner._control->lose_recv_ends.load() > 0) {
                _owner._control->lose_recv_ends.fetch_sub(1);
                _owner._control->recv_ends_lost.fetch_add(1);
                _owner._lost.push_back({slot, gen, how, 0});
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
    std::mt19937_64 _rng; ///< reactor thread only, like the rest below
    std::vector<held_end> _held;
    std::vector<held_end> _cancelling;     ///< recvs cancelled, their end not yet seen
    std::vector<held_end> _lost;           ///< recvs whose EOF/error end was lost
    std::vector<held_end> _lost_cancelled; ///< ends for the cancels of those, due next wait
    shim _shim;
};

} // namespace ringbolt::uring::test_support
