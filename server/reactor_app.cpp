// The reactor class's side of the application: a turn's batch handed over (run_app), the
// inbox of answers other threads deliver, and answers framed by their connections'
// protocols; split from reactor.cpp, one header.
#include "server/reactor.hpp"

#include "core/clock.hpp"

#include <cstdint>
#include <span>

namespace ringbolt::server {

// The turn's requests go to the application in one call; their answers are framed here
// and sent with the turn's output.
void reactor::run_app() noexcept {
    std::vector<dispatch::app_request>& batch = _dispatcher.batch();
    if (_app.offloads()) {
        count_app_requests(batch.size());
        _app.submit(_index, batch, *this); // answers arrive through deliver()
        batch.clear();
        return;
    }
    // Indices, not a span kept across calls: delivering answers can resume a paused
    // connection, whose held requests join the batch (and may move it); they run here too.
    for (size_t done = 0; done < batch.size();) {
        size_t n = batch.size() - done;
        count_app_requests(n);
        _counters.gil_wait_ns.add(
            _app.handle_batch(_app_slot, std::span<dispatch::app_request>(batch).subspan(done, n), _responses, *this));
        done += n;
        // A sync handler may have held this thread for seconds: the deadlines its answers
        // arm (keep-alive) count from now. (Timers that ran meanwhile are the sweep's
        // business: it does not fire one whose input the kernel holds unread.)
        catch_up_clock();
        deliver_responses(_responses);
        _responses.clear();
    }
    _dispatcher.recycle_batch(); // empties it, keeping the buffers of what the handlers let go
}

void reactor::count_app_requests(size_t n) noexcept {
    _counters.python_batches.add();
    _counters.python_requests.add(n);
    _counters.app_queue_depth.add(n); // answered in deliver_responses
}

void reactor::deliver(std::vector<http::app_response>& responses) noexcept {
    bool wake;
    {
        std::lock_guard<std::mutex> lock(_inbox_mutex);
        wake = _inbox.empty(); // at most one wake-up per batch of answers
        for (auto& r : responses) {
            _inbox.push_back(std::move(r));
        }
    }
    if (wake) {
        _inbox_ready.store(true, std::memory_order_seq_cst);
        if (_awake.load(std::memory_order_seq_cst)) {
            _counters.answer_wakes_skipped.add_shared(); // it looks at the inbox before it blocks (turn())
        } else {
            _counters.answer_wakes.add_shared();
            this->wake();
        }
    }
}

void reactor::drain_inbox() noexcept {
    if (!_inbox_ready.exchange(false, std::memory_order_acquire)) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(_inbox_mutex);
        _inbox_work.swap(_inbox);
    }
    deliver_responses(_inbox_work);
    _inbox_work.clear();
}

void reactor::deliver_responses(std::vector<http::app_response>& responses) noexcept {
    if (!_draining && _stop.load(std::memory_order_acquire)) [[unlikely]] {
        begin_drain(); // answers finished after the signal say Connection: close
    }
    uint64_t now = _route_latency ? core::monotonic_ns() : 0;
    auto e = env();
    for (http::app_response& r : responses) {
        if (r.parts & http::app_response::part_head) {
            // The handler has answered: it no longer counts against the admission cap.
            _counters.app_queue_depth.sub(1);
            if (_config.limit_concurrency != 0) {
                _app_pending->fetch_sub(1, std::memory_order_relaxed);
            }
            if (_route_latency && r.start_ns != 0) {
                _route_latency[r.route_id].record(now - r.start_ns);
            }
        }
        conn_slot* s = live_slot(r.conn_slot, static_cast<uint16_t>(r.conn_gen));
        if (s == nullptr || s->gen != r.conn_gen || s->state == slot_state::closing) {
            if (r.stream) {
                r.stream->on_closed(); // the client went away while the handler ran
            }
            continue;
        }
        uint32_t slot = r.conn_slot;
        s->proto->on_app_message(std::move(r), e);
        if (s->proto->has_successor()) [[unlikely]] {
            switch_protocol(*s);
        }
        mark_dirty(*s, slot);
        if (paused(*s) && s->send == send_state::idle) {
            resume_reading(*s, slot); // an answer or body credit may let held input go on
        }
    }
}

} // namespace ringbolt::server
