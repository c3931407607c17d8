// The application side of a reactor (Python lives behind this): how a turn's requests
// reach it, and how its answers come back (response_sink), inline or from other threads.
#pragma once

#include "dispatch/app_request.hpp"
#include "http/app_message.hpp"

#include <memory>
#include <span>
#include <vector>

namespace ringbolt::server {

class reactor;

/// Where an offloading application delivers response messages (thread-safe). An
/// application must stop calling deliver() (join its threads) before the server is
/// destroyed; it may keep calling it after the reactors have exited (messages are then
/// dropped, and streams told they are closed).
class response_sink {
  public:
    virtual ~response_sink() = default;
    virtual void deliver(std::vector<http::app_response>& responses) noexcept = 0;
    /// deliver(), from the thread that hosts the event loop of this sink's reactor
    /// (server_config::host_loop), outside its turns: the messages go out at once, with no
    /// wake-up. False (nothing taken) where that cannot be done: use deliver().
    virtual bool deliver_here(std::vector<http::app_response>& responses) noexcept {
        (void)responses;
        return false;
    }
};

/// The application side of a reactor (Python lives behind this).
class app_handler {
  public:
    virtual ~app_handler() = default;
    /// True: requests go to submit() and answers come back later through the sink
    /// (handlers run on other threads and may block). False: handle_batch() inline.
    virtual bool offloads() const noexcept { return false; }
    /// Take the requests of one loop turn (moved out of `batch`); answer via `sink`.
    virtual void submit(unsigned reactor_index, std::vector<dispatch::app_request>& batch,
                        response_sink& sink) noexcept {
        (void)reactor_index;
        (void)batch;
        (void)sink;
    }
    /// Run the application on requests gathered in one loop turn; append the response
    /// messages it has at once (a whole response per request in the common case), and
    /// send the rest later through `later` (async handlers, streamed bodies). Called on
    /// reactor thread `reactor_index`. Returns the nanoseconds spent waiting for the
    /// application's lock (the GIL).
    virtual uint64_t handle_batch(unsigned reactor_index, std::span<dispatch::app_request> batch,
                                  std::vector<http::app_response>& responses, response_sink& later) noexcept = 0;
    /// The receiving end of a request body streamed to the application (requests of
    /// routes with streams_body); messages about it (credit) go through `sink`.
    virtual std::shared_ptr<http::body_stream> make_body_stream(response_sink& sink, uint32_t slot, uint32_t gen,
                                                                uint64_t seq) noexcept {
        (void)sink;
        (void)slot;
        (void)gen;
        (void)seq;
        return nullptr;
    }
    /// The reactor thread starts its loop (once, before the first turn): from now on
    /// wake-ups it owes other threads wait for end_of_turn.
    virtual void begin_turns() noexcept {}
    /// The reactor finished a turn and is about to wait for the kernel: wake-ups it
    /// owes other threads go out now, once for the whole turn.
    virtual void end_of_turn() noexcept {}
    /// Once a second, from the reactor's tick on its own thread (`slot`: handle_batch's):
    /// let go of what sent output kept alive for the application (the Python objects a
    /// body was sent from, dropped under the GIL: at once in a hosted turn, which holds
    /// it, else by the event loop's thread, woken), so that an idle server gives a
    /// burst's memory back without waiting for its next request. Never waits for the GIL.
    virtual void on_second(unsigned slot) noexcept { (void)slot; }
    /// The reactor thread is about to exit: release per-thread state.
    virtual void on_reactor_exit(unsigned reactor_index) noexcept { (void)reactor_index; }
    /// server_config::host_loop: run the application's event loop on this (the
    /// reactor's) thread, calling `r.hosted_turn()` whenever `r.poll_fd()` is readable and
    /// at least 4 times a second, until it returns 0. False: not hosted (no event loop),
    /// the reactor runs its own turns. While a hosted reactor's stand-in serves it (the loop
    /// is blocked) its handle_batch calls come from that thread, as `reactor_index + 1`.
    virtual bool host_loop(reactor& r) noexcept {
        (void)r;
        return false;
    }
    /// A hosted turn of reactor `reactor_index` must wait for the turn lock (its stand-in
    /// serves the connections and takes the application's lock for its batches): the
    /// application lets go of that lock if the turn holds it, and takes it back in
    /// after_turn_lock_wait, once the turn lock is held (the turn lock before the GIL).
    virtual void before_turn_lock_wait(unsigned reactor_index) noexcept { (void)reactor_index; }
    virtual void after_turn_lock_wait(unsigned reactor_index) noexcept { (void)reactor_index; }
};

} // namespace ringbolt::server
