// The handler pool (--handler-threads, --wsgi-threads): sync handlers and WSGI apps run
// on Python threads, one request at a time from one shared queue, with one thread on
// standby while there is work; answers go to each reactor in one delivery.
#include "pymod/native/bridge/app_bridge.hpp"

#include "core/cpu.hpp"
#include "core/log.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <sys/stat.h>

namespace ringbolt::py {

void app_bridge::start_pool(unsigned threads) {
    if (_interp == nullptr) {
        _interp = PyThreadState_Get()->interp;
    }
    _pool_size = threads;
    _stopping = false;
    // A test hook (tests/py/test_wsgi.py): the pool threads hold back, before they first
    // wait for work, until this file exists, so that requests can be queued while no
    // pool thread waits (the start-up window a lost wake-up once hid in).
    const char* gate = std::getenv("RINGBOLT_TEST_POOL_GATE");
    _pool_gate = gate != nullptr ? gate : "";
    for (unsigned i = 0; i < threads; ++i) {
        _pool.emplace_back([this, i] {
            core::name_current_thread("rb-pool-", i);
            pool_main();
        });
    }
}

void app_bridge::stop_pool() noexcept {
    {
        std::lock_guard<std::mutex> lock(_queue_mutex);
        _stopping = true;
    }
    _queue_cv.notify_all();
    for (auto& t : _pool) {
        if (t.joinable()) {
            t.join();
        }
    }
    _pool.clear();
}

void app_bridge::submit(unsigned, std::vector<dispatch::app_request>& batch, server::response_sink& sink) noexcept {
    bool wake;
    {
        std::lock_guard<std::mutex> lock(_queue_mutex);
        for (auto& req : batch) {
            _queue.emplace_back(&sink, std::move(req));
        }
        wake = wake_standby_locked();
    }
    if (wake) {
        _queue_cv.notify_one();
    }
}

bool app_bridge::is_async(const dispatch::app_request& req) const noexcept {
    return _handlers[req.handler].is_coroutine && _async_runner;
}

bool app_bridge::wake_standby_locked() noexcept {
    if (_standby > 0 || _idle <= _wakeups) {
        return false; // someone looks at the queue next, or every thread is busy
    }
    ++_wakeups;
    ++_standby; // on behalf of the thread it wakes
    return true;
}

// The pool runs queued requests one at a time, taken from the shared queue, and keeps
// exactly one thread on standby while there is work: a thread that takes a request
// while more is queued wakes a spare, which then waits for the GIL. Should the app call
// block (I/O, a lock, a sleep: the GIL is released), the spare gets the GIL at once and
// takes the next request, and wakes the next spare: blocking apps overlap up to the
// pool size. An app that does not block keeps the GIL; the spare gets it when the
// runner lets go to deliver, finds the queue empty and sleeps again. So a batch costs
// one wake-up and one GIL hand-off, whatever its size and the pool's (waking every
// thread per batch cost each of them a wake-up and a GIL round: 0.18 context switches
// per request for a plaintext WSGI app, BENCHMARKS.md issue 9).
//
// Answers wait in one shared outbox and go to each reactor in one delivery: when the
// queue runs dry, every `pool_delivery_batch` answers, before the last queued request
// runs, and whenever a spare gets the GIL (a runner that blocks must not hold back the
// answers it already has).
void app_bridge::pool_main() noexcept {
    constexpr size_t pool_delivery_batch = 64;
    PyThreadState* ts = PyThreadState_New(_interp);
    std::vector<dispatch::app_request> run;
    std::vector<http::app_response> answers;
    outbox_t sending;
    // Under the lock: take what the outbox holds; then, unlocked, deliver it.
    auto deliver_outbox = [&](std::unique_lock<std::mutex>& lock) {
        if (_outbox_held == 0) {
            return;
        }
        sending.swap(_outbox);
        _outbox_held = 0;
        lock.unlock();
        for (auto& [sink, list] : sending) {
            if (!list.empty()) {
                sink->deliver(list);
                list.clear();
            }
        }
        lock.lock();
        if (_outbox.empty()) {
            _outbox.swap(sending); // keep the capacity
        }
    };
    if (!_pool_gate.empty()) {
        struct stat st {};
        while (::stat(_pool_gate.c_str(), &st) != 0) {
            {
                std::lock_guard<std::mutex> lock(_queue_mutex);
                if (_stopping) {
                    break;
                }
            }
            struct timespec pause {
                0, 10'000'000
            };
            ::nanosleep(&pause, nullptr);
        }
    }
    std::unique_lock<std::mutex> lock(_queue_mutex);
    if (!_pool_gate.empty()) {
        log(core::log_level::warning,
            "test hook RINGBOLT_TEST_POOL_GATE: a pool thread passed the gate with %zu requests queued", _queue.size());
    }
    // The GIL is taken and dropped with the queue's lock released (never wait for the
    // GIL while holding a lock a GIL holder may want).
    auto take_gil = [&] {
        lock.unlock();
        PyEval_RestoreThread(ts);
        lock.lock();
    };
    auto drop_gil = [&] {
        lock.unlock();
        PyEval_SaveThread();
        lock.lock();
    };
    while (true) {
        ++_idle;
        // Woken for work (a token), to stop, or for work nobody stands by for: requests
        // submitted before any pool thread was waiting here (at start-up `_idle` is 0, so
        // submit wakes no one) would otherwise wait forever.
        _queue_cv.wait(lock, [this] { return _wakeups > 0 || _stopping || (!_queue.empty() && _standby == 0); });
        --_idle;
        if (_wakeups > 0) {
            --_wakeups; // _standby already counts this thread
        } else if (!_queue.empty()) {
            ++_standby; // unclaimed work, or stopping: drain what is queued
        } else {
            break; // stopping, and nothing left to answer
        }
        take_gil();           // a spare waits here while the runner holds the GIL
        deliver_outbox(lock); // the runner let go: it may be blocked, holding answers
        while (true) {
            while (!_queue.empty()) {
                // One request; with it, the async ones queued right after it for the same
                // reactor (handing a coroutine over does not block: one hand-over for all).
                server::response_sink* sink = _queue.front().sink;
                run.clear();
                do {
                    run.push_back(std::move(_queue.front().req));
                    _queue.pop_front();
                } while (!_queue.empty() && _queue.front().sink == sink && is_async(_queue.front().req) &&
                         is_async(run.front()));
                if (_queue.empty()) {
                    deliver_outbox(lock); // no spare will come by while this one runs
                }
                --_standby; // into the app, which may block
                bool wake = !_queue.empty() && wake_standby_locked();
                lock.unlock();
                if (wake) {
                    _queue_cv.notify_one();
                }
                answers.clear();
                run_batch(run, answers, *sink);
                lock.lock();
                ++_standby;
                if (!answers.empty()) {
                    auto box = std::find_if(_outbox.begin(), _outbox.end(), [&](auto& e) { return e.first == sink; });
                    if (box == _outbox.end()) {
                        box = _outbox.emplace(_outbox.end(), sink, std::vector<http::app_response>());
                    }
                    for (auto& a : answers) {
                        box->second.push_back(std::move(a));
                    }
                    _outbox_held += answers.size();
                }
                if (_outbox_held >= pool_delivery_batch) {
                    drop_gil();
                    deliver_outbox(lock);
                    take_gil();
                }
            }
            // The queue ran dry: deliver without the GIL (a spare may take it), still on
            // standby, so a submit meanwhile wakes no one; then look at the queue again.
            drop_gil();
            deliver_outbox(lock);
            if (_queue.empty()) {
                break;
            }
            take_gil();
        }
        --_standby;
    }
    lock.unlock();
    PyEval_RestoreThread(ts);
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent();
}

} // namespace ringbolt::py
