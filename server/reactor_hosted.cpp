// The reactor class's turns when it hosts the application's event loop
// (server_config::host_loop): the loop's turn (hosted_turn), answers sent from the loop's
// thread (deliver_here), and the stand-in thread that serves the connections while the
// loop is blocked; split from reactor.cpp.
#include "server/reactor.hpp"

#include "core/clock.hpp"
#include "core/cpu.hpp"
#include "core/log.hpp"

#include <unistd.h>

namespace ringbolt::server {

int reactor::hosted_turn() noexcept {
    _loop_beat_ns.store(core::monotonic_ns(), std::memory_order_relaxed);
    std::unique_lock<std::mutex> lock(_turn_mutex, std::try_to_lock);
    if (!lock.owns_lock()) {
        // The stand-in serves the connections (the loop was blocked): it hands back at the
        // end of its current wait, which this cuts short.
        _ring_wanted.store(true, std::memory_order_release);
        wake();
        _app.before_turn_lock_wait(_index); // the stand-in's batches take the GIL this turn may hold
        lock.lock();
        _app.after_turn_lock_wait(_index);
        _ring_wanted.store(false, std::memory_order_relaxed);
    }
    if (_done) {
        return 0;
    }
    _host_in_turn = true;
    bool more = turn(0);
    _host_in_turn = false;
    if (!more) {
        _done = true;
        return 0;
    }
    flush_dirty(); // the loop waits next: what this turn queued goes to the kernel now
    _app.end_of_turn();
    int quic = _quic ? hosted_quic_state() : 0; // before submit: its datagrams go with the rest
    int state = _backend->submit() ? 2 : 1;
    return quic == 2 ? 2 : state | quic;
}

bool reactor::deliver_here(std::vector<http::app_response>& responses) noexcept {
    if (!_config.host_loop || !pthread_equal(pthread_self(), _host_thread) || _host_in_turn) {
        return false;
    }
    std::unique_lock<std::mutex> lock(_turn_mutex, std::try_to_lock);
    if (!lock.owns_lock() || _done) {
        return false; // the stand-in serves the connections: through the inbox
    }
    catch_up_clock(); // the loop may have run (or been blocked) for a while since its last turn
    drain_inbox();    // what came before (another thread's, or the stand-in's time) goes first
    deliver_responses(responses);
    responses.clear();
    flush_dirty();
    _app.end_of_turn();
    if (_quic) {
        hosted_quic_after_delivery();
    }
    if (_backend->submit()) {
        wake(); // completions known already (epoll's sends): the loop turns for them next
    }
    return true;
}

void reactor::stop_standin() noexcept {
    {
        std::lock_guard<std::mutex> lock(_standin_mutex);
        _standin_exit = true;
    }
    _standin_cv.notify_all();
    if (_wake_fd.load(std::memory_order_acquire) >= 0) {
        wake(); // a stand-in serving the connections returns from its wait
    }
    if (_standin.joinable()) {
        _standin.join();
    }
}

void reactor::wake() noexcept {
    uint64_t one = 1;
    ssize_t ignored = ::write(_wake_fd.load(std::memory_order_acquire), &one, sizeof(one));
    (void)ignored;
}

// The stand-in of a hosted reactor: it looks 10 times a second whether the loop still
// turns, and serves the connections while it does not (an async handler blocks it), so
// that sync routes are answered and async requests are read and queued for the loop.
void reactor::standin_main() noexcept {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    core::name_current_thread("rb-standin-", _index);
    bool began = false;
    std::unique_lock<std::mutex> lock(_standin_mutex);
    while (!_standin_exit) {
        _standin_cv.wait_for(lock, std::chrono::milliseconds(100));
        if (_standin_exit) {
            break;
        }
        if (!_hosting.load(std::memory_order_acquire) ||
            core::monotonic_ns() - _loop_beat_ns.load(std::memory_order_relaxed) < standin_after_ns()) {
            continue;
        }
        lock.unlock();
        if (!began) {
            _app.begin_turns();
            began = true;
        }
        serve_while_loop_blocked();
        lock.lock();
    }
    lock.unlock();
    if (began) {
        _app.on_reactor_exit(_index + 1);
    }
}

void reactor::serve_while_loop_blocked() noexcept {
    std::unique_lock<std::mutex> turns(_turn_mutex, std::try_to_lock);
    uint64_t since = _loop_beat_ns.load(std::memory_order_relaxed);
    // Held: a turn is running, so the loop is not what blocks (a sync handler may: it
    // holds its reactor whoever runs it).
    if (!turns.owns_lock() || _done || core::monotonic_ns() - since < standin_after_ns()) {
        return;
    }
    _counters.loop_stalls.add();
    core::log(core::log_level::warning,
              "reactor %u: the event loop has not turned for %.1f s; a stand-in thread serves its connections until it "
              "does",
              _index, static_cast<double>(core::monotonic_ns() - since) / 1e9);
    _app_slot = _index + 1;
    while (!_ring_wanted.load(std::memory_order_acquire)) {
        {
            std::lock_guard<std::mutex> lock(_standin_mutex);
            if (_standin_exit) {
                break;
            }
        }
        if (!turn(100)) {
            _done = true;
            break;
        }
    }
    flush_dirty();
    _app.end_of_turn();
    _backend->submit();
    _app_slot = _index;
    if (_ring_wanted.load(std::memory_order_relaxed)) {
        log(core::log_level::info, "reactor %u: the event loop turns again and serves its connections", _index);
    }
}

} // namespace ringbolt::server
