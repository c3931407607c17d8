// The output queue and its in-flight batches: coalescing, batch limits, partial sends,
// credits, and when borrowed bytes and files are let go.
#include "core/output_queue.hpp"

#include "tests/support/queue_text.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ringbolt::core {
namespace {

struct counting_credit final : core::send_credit {
    std::vector<size_t> told;
    uint64_t total = 0;
    void on_sent(size_t n) noexcept override {
        told.push_back(n);
        total += n;
    }
};

using test_support::describe;
using test_support::describe_batches;

std::shared_ptr<core::file_handle> no_file() {
    return std::make_shared<core::file_handle>(-1); // never read: the queue only moves it
}

TEST(OutputQueue, SmallPiecesCoalesceIntoOneSegment) {
    core::output_queue q;
    auto keep = std::make_shared<std::string>("borrowed");
    q.append("HTTP/1.1 200 OK\r\n");
    q.write_tail([](std::string& s) { s += "Content-Length: 2\r\n\r\n"; });
    q.append_owned(std::string("o"));
    q.append_borrowed(*keep, keep);
    q.append("");
    EXPECT_EQ(q.bytes(), 17u + 21u + 1u + 8u);
    EXPECT_EQ(describe_batches(q, 8, SIZE_MAX),
              (std::vector<std::vector<std::string>>{{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\noborrowed"}}));
    EXPECT_EQ(keep.use_count(), 1) << "a coalesced borrowed piece is copied, not kept";
    EXPECT_TRUE(q.empty());
}

// Bulk output in pieces (TLS records): a buffer takes pieces while it has room and is
// never grown (a pointer into it stays put); a piece that does not fit opens a new
// buffer of at least the chunk size.
TEST(OutputQueue, ChunkedPiecesFillBuffersThatNeverGrow) {
    core::output_queue q;
    q.append_chunked(std::string(40, 'a'), 100);
    q.append_chunked(std::string(40, 'b'), 100);
    q.append_chunked(std::string(20, 'c'), 100);  // 100 bytes: still fits
    q.append_chunked("dddd", 100);                // a new buffer
    q.append_chunked(std::string(250, 'e'), 100); // larger than the chunk: a buffer its size
    EXPECT_EQ(q.bytes(), 354u);
    core::send_batch b;
    ASSERT_TRUE(q.take_front(b, 16, 1 << 20));
    ASSERT_EQ(b.segments().size(), 3u);
    EXPECT_EQ(b.segments()[0].owned, std::string(40, 'a') + std::string(40, 'b') + std::string(20, 'c'));
    EXPECT_EQ(b.segments()[0].owned.capacity(), 100u);
    EXPECT_EQ(b.segments()[1].owned, "dddd");
    EXPECT_EQ(b.segments()[1].owned.capacity(), 100u);
    EXPECT_EQ(b.segments()[2].owned, std::string(250, 'e'));
    // After a response head (an owned tail with room), pieces join it only while they fit.
    core::output_queue r;
    r.append("HTTP/1.1 200 OK\r\n\r\n");
    r.append_chunked(std::string(4000, 'x'), 4000);
    std::vector<std::vector<std::string>> got = describe_batches(r, 16, 1 << 20);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].size(), 2u);
    EXPECT_EQ(got[0][1], std::string(4000, 'x'));
}

// A body moved in (its buffer exactly full) is never grown for a few more bytes: the
// next frame header or response head starts a new segment, so the body is not copied.
TEST(OutputQueue, SmallAppendAfterAMovedBodyDoesNotCopyIt) {
    core::output_queue q;
    std::string body(20000, 'b');
    body.shrink_to_fit();
    const char* where = body.data();
    q.append_owned(std::move(body));
    q.append("next frame header");
    q.write_tail([](std::string& tail) { tail.append("and a head"); });
    core::send_batch b;
    ASSERT_TRUE(q.take_front(b, 16, 1 << 20));
    ASSERT_EQ(b.segments().size(), 2u);
    EXPECT_EQ(b.segments()[0].owned.data(), where);
    EXPECT_EQ(b.segments()[0].owned.size(), 20000u);
    EXPECT_EQ(b.segments()[1].owned, "next frame headerand a head");
    // A small owned tail still takes what follows (one iovec for a head and a small body).
    core::output_queue r;
    r.append("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    r.append_owned(std::string(100, 'y'));
    EXPECT_EQ(describe_batches(r, 16, 1 << 20).front().size(), 1u);
}

TEST(OutputQueue, LargeOwnedAndBorrowedStaySeparate) {
    core::output_queue q;
    std::string big(core::output_queue::coalesce_below, 'x');
    const char* big_data = big.data();
    auto kept = std::make_shared<std::string>(2000, 'b');
    q.append("head");
    q.append_owned(std::move(big));
    q.append_borrowed(*kept, kept);
    q.append("tail");
    core::send_batch b;
    ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX));
    ASSERT_EQ(b.segments().size(), 4u);
    EXPECT_EQ(b.segments()[0].bytes(), "head");
    EXPECT_EQ(b.segments()[1].type, segment::kind::owned);
    EXPECT_EQ(b.segments()[1].bytes().data(), big_data) << "moved in, not copied";
    EXPECT_EQ(b.segments()[2].type, segment::kind::borrowed);
    EXPECT_EQ(b.segments()[2].bytes().data(), kept->data()) << "sent from the owner's memory";
    EXPECT_EQ(b.segments()[3].bytes(), "tail");
    EXPECT_EQ(b.remaining(), 4u + core::output_queue::coalesce_below + 2000u + 4u);
}

TEST(OutputQueue, FileRangesGoOutAlone) {
    core::output_queue q;
    q.append("head");
    q.append_file(no_file(), 10, 100);
    q.append_file(no_file(), 0, 5);
    q.append("tail");
    q.append_file(no_file(), 0, 0); // empty: nothing
    EXPECT_EQ(q.bytes(), 4u + 100u + 5u + 4u);
    EXPECT_EQ(describe_batches(q, 8, SIZE_MAX),
              (std::vector<std::vector<std::string>>{{"head"}, {"[file 10+100]"}, {"[file 0+5]"}, {"tail"}}));
}

// The reactor sends a head with MSG_MORE when its file body is next (one packet for both).
TEST(OutputQueue, FrontIsFileSaysWhatTheNextBatchIs) {
    core::output_queue q;
    EXPECT_FALSE(q.front_is_file());
    q.append("head");
    q.append_file(no_file(), 10, 100);
    q.append("next head");
    EXPECT_FALSE(q.front_is_file());
    core::send_batch b;
    ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX)); // the head
    EXPECT_TRUE(q.front_is_file());
    b.reset();
    ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX)); // the file
    EXPECT_FALSE(q.front_is_file());
    b.reset();
    ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX));
    EXPECT_FALSE(q.front_is_file());
    EXPECT_FALSE(q.take_front(b, 8, SIZE_MAX));
}

TEST(OutputQueue, TakeFrontLimits) {
    struct limit_case {
        const char* name;
        size_t max_iov;
        size_t max_bytes;
        std::vector<size_t> expected; ///< segments per batch
    };
    // Five separate 2000-byte segments.
    const limit_case cases[] = {
        {"no limit", 8, SIZE_MAX, {5}},
        {"iovec limit", 2, SIZE_MAX, {2, 2, 1}},
        {"one iovec", 1, SIZE_MAX, {1, 1, 1, 1, 1}},
        {"byte limit", 8, 4000, {2, 2, 1}},
        {"byte limit between segments", 8, 5999, {2, 2, 1}},
        {"a segment over the byte limit still goes alone", 8, 100, {1, 1, 1, 1, 1}},
        {"both limits", 3, 5000, {2, 2, 1}},
    };
    for (const auto& c : cases) {
        core::output_queue q;
        for (char ch = 'a'; ch < 'f'; ++ch) {
            q.append_owned(std::string(2000, ch));
        }
        std::vector<size_t> got;
        for (const auto& b : describe_batches(q, c.max_iov, c.max_bytes)) {
            got.push_back(b.size());
        }
        EXPECT_EQ(got, c.expected) << c.name;
    }
}

TEST(OutputQueue, IovecsFollowPartialSends) {
    core::output_queue q;
    q.append_owned(std::string(2000, 'a'));
    q.append_owned(std::string(1500, 'b'));
    core::send_batch b;
    ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX));
    struct step {
        uint64_t consume;
        std::vector<std::pair<char, size_t>> iov; ///< first byte and length of each iovec
    };
    const step steps[] = {
        {0, {{'a', 2000}, {'b', 1500}}},
        {500, {{'a', 1500}, {'b', 1500}}},
        {1499, {{'a', 1}, {'b', 1500}}},
        {1, {{'b', 1500}}},
        {1400, {{'b', 100}}},
        {100, {}},
    };
    for (const auto& s : steps) {
        b.consume(s.consume);
        iovec iov[8];
        size_t n = b.iovecs(iov, 8);
        ASSERT_EQ(n, s.iov.size()) << "after consuming " << s.consume;
        uint64_t left = 0;
        for (size_t i = 0; i < n; ++i) {
            EXPECT_EQ(*static_cast<const char*>(iov[i].iov_base), s.iov[i].first);
            EXPECT_EQ(iov[i].iov_len, s.iov[i].second);
            left += iov[i].iov_len;
        }
        EXPECT_EQ(b.remaining(), left);
    }
    EXPECT_TRUE(b.empty());
    iovec one[1];
    q.append("x");
    ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX));
    EXPECT_EQ(b.iovecs(one, 0), 0u) << "max 0 iovecs";
}

TEST(OutputQueue, CreditsAreToldExactlyWhatWasSent) {
    core::output_queue q;
    auto first = std::make_shared<counting_credit>();
    auto second = std::make_shared<counting_credit>();
    q.append("head"); // no credit: never told
    q.append_owned(std::string(10, 'a'), first);
    q.append_owned(std::string(3, 'b'), first); // small but credited: not coalesced
    q.append_borrowed(std::string_view("borrowed"), nullptr, second);
    q.append_owned(std::string(), second); // empty: told 0 at once
    EXPECT_EQ(second->told, std::vector<size_t>{0});
    core::send_batch b;
    ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX));
    ASSERT_EQ(b.segments().size(), 4u);
    b.consume(2); // inside "head"
    EXPECT_TRUE(first->told.empty());
    b.consume(7); // the rest of "head" and 5 of the first 10
    b.consume(9); // 5, then all 3, then 1 of "borrowed"
    EXPECT_EQ(first->told, (std::vector<size_t>{5, 5, 3}));
    EXPECT_EQ(second->told, (std::vector<size_t>{0, 1}));
    b.consume(100); // more than left: only what is there
    EXPECT_EQ(first->total, 13u);
    EXPECT_EQ(second->total, 8u);
    EXPECT_TRUE(b.empty());
}

TEST(OutputQueue, BorrowedBytesAndFilesAreReleasedOnceSentOrDropped) {
    struct release_case {
        const char* name;
        bool send_all;    ///< consume the whole batch (else reset it after a partial send)
        bool clear_queue; ///< drop the queue before taking anything
    };
    const release_case cases[] = {
        {"sent", true, false},
        {"batch reset after a partial send", false, false},
        {"queue cleared", false, true},
    };
    for (const auto& c : cases) {
        core::output_queue q;
        auto owner = std::make_shared<std::string>(3000, 'k');
        std::weak_ptr<std::string> owner_alive = owner;
        auto file = no_file();
        std::weak_ptr<core::file_handle> file_alive = file;
        q.append_borrowed(*owner, owner);
        q.append_file(std::move(file), 0, 10);
        owner.reset();
        ASSERT_FALSE(owner_alive.expired()) << c.name << ": the queue keeps the owner";
        ASSERT_FALSE(file_alive.expired()) << c.name;
        if (c.clear_queue) {
            q.clear();
        } else {
            core::send_batch b;
            ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX));
            if (c.send_all) {
                b.consume(2999);
                EXPECT_FALSE(owner_alive.expired()) << c.name << ": one byte is still unsent";
                b.consume(1);
                EXPECT_TRUE(owner_alive.expired()) << c.name << ": released as soon as sent";
                b.reset();
                ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX));
                ASSERT_TRUE(b.is_file());
                b.consume(10);
                EXPECT_TRUE(file_alive.expired()) << c.name;
            } else {
                b.consume(100);
                b.reset();
            }
            if (!c.send_all) {
                q.clear(); // the connection is gone: the file range still queued goes too
            }
        }
        EXPECT_TRUE(owner_alive.expired()) << c.name;
        EXPECT_TRUE(file_alive.expired()) << c.name;
        EXPECT_TRUE(q.empty()) << c.name;
    }
}

TEST(OutputQueue, SpliceMovesEverythingInOrder) {
    core::output_queue front;
    core::output_queue held; // a later response framed while an earlier one was owed
    auto credit = std::make_shared<counting_credit>();
    front.append("A");
    held.append("b");
    held.append_owned(std::string(2000, 'c'), credit);
    held.append("d");
    held.append_file(no_file(), 7, 3);
    front.splice(held);
    EXPECT_TRUE(held.empty());
    EXPECT_EQ(front.bytes(), 1u + 1u + 2000u + 1u + 3u);
    auto got = describe_batches(front, 8, SIZE_MAX);
    ASSERT_EQ(got.size(), 2u);
    ASSERT_EQ(got[0].size(), 3u);
    EXPECT_EQ(got[0][0], "Ab") << "small pieces join the tail";
    EXPECT_EQ(got[0][1], std::string(2000, 'c'));
    EXPECT_EQ(got[0][2], "d");
    EXPECT_EQ(got[1], std::vector<std::string>{"[file 7+3]"});
    EXPECT_EQ(credit->total, 2000u) << "the credit moved with its segment";
    held.append("again"); // the emptied queue is usable
    EXPECT_EQ(describe_batches(held, 8, SIZE_MAX), std::vector<std::vector<std::string>>{{"again"}});
}

TEST(OutputQueue, ClearFreesEverything) {
    core::output_queue q;
    for (int i = 0; i < 100; ++i) {
        q.append_owned(std::string(2000, 'x'));
    }
    q.clear();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    core::send_batch b;
    EXPECT_FALSE(q.take_front(b, 8, SIZE_MAX));
    q.append("after");
    EXPECT_EQ(describe_batches(q, 8, SIZE_MAX), std::vector<std::vector<std::string>>{{"after"}});
}

// After a send, recycle_from() gives the queue its lone segment back, emptied, when nothing
// was queued meanwhile, and the buffer to the thread's kept buffers (the next response is
// framed into the same memory: the last one freed). Whatever follows still goes out whole
// and in order.
TEST(OutputQueue, SentBufferComesBackForTheNextResponse) {
    struct reuse_case {
        const char* name;
        bool queued_meanwhile; ///< bytes appended while the first batch was in flight
        const char* then_kind; ///< what the next response appends: "small", "owned", "borrowed", "file", "credited"
    };
    const reuse_case cases[] = {
        {"small after nothing", false, "small"},       {"large owned after nothing", false, "owned"},
        {"borrowed after nothing", false, "borrowed"}, {"file after nothing", false, "file"},
        {"credited after nothing", false, "credited"}, {"small after queued", true, "small"},
        {"owned after queued", true, "owned"},
    };
    for (const auto& c : cases) {
        core::output_queue q;
        q.append(std::string(600, 'a')); // a response: one owned segment of fresh capacity
        core::send_batch b;
        ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX)) << c.name;
        const char* sent_memory = b.segments()[0].owned.data();
        if (c.queued_meanwhile) {
            q.append("pipelined");
        }
        b.consume(b.remaining());
        ASSERT_TRUE(b.empty()) << c.name;
        q.recycle_from(b);
        b.reset();
        EXPECT_EQ(q.bytes(), c.queued_meanwhile ? 9u : 0u) << c.name;
        core::send_batch none;
        EXPECT_EQ(q.take_front(none, 8, SIZE_MAX), c.queued_meanwhile) << c.name; // nothing empty is ever sent
        std::vector<std::vector<std::string>> expected;
        if (c.queued_meanwhile) {
            EXPECT_EQ(describe(none.segments()[0]), "pipelined") << c.name;
            none.consume(none.remaining());
            q.recycle_from(none);
            none.reset();
        }
        auto credit = std::make_shared<counting_credit>();
        std::string then = c.then_kind;
        std::string big(3000, 'z');
        q.append("head;");
        if (then == "small") {
            q.append("body");
            expected.push_back({"head;body"});
        } else if (then == "owned") {
            q.append_owned(std::string(big));
            expected.push_back({"head;", big});
        } else if (then == "borrowed") {
            q.append_borrowed(big, nullptr);
            expected.push_back({"head;", big});
        } else if (then == "file") {
            q.append_file(no_file(), 7, 100);
            expected.push_back({"head;"});
            expected.push_back({"[file 7+100]"});
        } else {
            q.append_credited("piece", credit);
            expected.push_back({"head;", "piece"});
        }
        if (!c.queued_meanwhile) {
            // The next head went into the memory just sent: no allocation for it.
            core::send_batch peek;
            ASSERT_TRUE(q.take_front(peek, 1, SIZE_MAX)) << c.name;
            EXPECT_EQ(peek.segments()[0].owned.data(), sent_memory) << c.name;
            EXPECT_EQ(describe(peek.segments()[0]), "head;" + std::string(then == "small" ? "body" : "")) << c.name;
            peek.consume(peek.remaining());
            q.recycle_from(peek);
            expected.front().erase(expected.front().begin());
            if (expected.front().empty()) {
                expected.erase(expected.begin());
            }
        }
        EXPECT_EQ(describe_batches(q, 8, SIZE_MAX), expected) << c.name;
        EXPECT_TRUE(q.empty()) << c.name;
        if (then == "credited") {
            EXPECT_EQ(credit->total, 5u) << c.name;
        }
    }
}

// The emptied tail recycle_from leaves (when the sent buffer grew too large to keep, or
// the thread keeps enough) is never sent, whatever is appended after it without going
// through the tail (a file range alone, a large owned or credited piece): no zero-length
// iovec, and a file range still goes out alone. Nor is anything when the segment went to
// the thread's kept buffers (a sent buffer of a fresh size).
TEST(OutputQueue, EmptiedTailIsNeverSent) {
    struct after_case {
        const char* name;
        const char* kind;
        std::vector<std::vector<std::string>> expected;
    };
    const std::string big(3000, 'z');
    const after_case cases[] = {
        {"file", "file", {{"[file 3+9]"}}},
        {"large owned", "owned", {{big}}},
        {"credited", "credited", {{"piece"}}},
        {"file then small", "file_small", {{"[file 3+9]"}, {"tail"}}},
    };
    for (size_t first_size : {size_t{600}, core::output_queue::kept_capacity_max + 100}) {
        for (const auto& c : cases) {
            core::output_queue q;
            q.append(std::string(first_size, 'a'));
            core::send_batch b;
            ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX)) << c.name << " after " << first_size;
            b.consume(b.remaining());
            q.recycle_from(b); // q now holds an emptied owned segment, or none
            b.reset();
            std::string kind = c.kind;
            auto credit = std::make_shared<counting_credit>();
            if (kind == "file" || kind == "file_small") {
                q.append_file(no_file(), 3, 9);
            } else if (kind == "owned") {
                q.append_owned(std::string(big));
            } else {
                q.append_credited("piece", credit);
            }
            if (kind == "file_small") {
                q.append("tail");
            }
            EXPECT_EQ(describe_batches(q, 8, SIZE_MAX), c.expected) << c.name << " after " << first_size;
            EXPECT_TRUE(q.empty()) << c.name << " after " << first_size;
        }
    }
}

/// One response of `size` bytes framed into `q` and sent whole, the reactor's way (take_front,
/// consume, recycle_from). Returns where its bytes were.
const char* send_one(core::output_queue& q, size_t size) {
    q.append(std::string(size, 'r'));
    core::send_batch b;
    EXPECT_TRUE(q.take_front(b, 8, SIZE_MAX));
    const char* memory = b.segments()[0].owned.data();
    b.consume(b.remaining());
    q.recycle_from(b);
    b.reset();
    return memory;
}

// A connection's sent buffer goes to the thread's kept buffers, and the next response of
// another connection is framed into it (the memory the send just read), last freed first.
TEST(OutputQueueKeptBuffers, SecondQueueFramesIntoTheBufferTheFirstReleased) {
    core::output_queue::release_kept_buffers();
    ASSERT_EQ(core::output_queue::kept_buffers(), 0u);
    core::output_queue first;
    core::output_queue second;
    core::output_queue third;
    const char* first_memory = send_one(first, 300);
    EXPECT_EQ(core::output_queue::kept_buffers(), 1u);
    const char* second_memory = send_one(second, 200);
    EXPECT_EQ(second_memory, first_memory); // the second connection's response, in the first's buffer
    EXPECT_EQ(core::output_queue::kept_buffers(), 1u);
    core::output_queue::recycle(std::string()); // (an empty string is not kept)
    EXPECT_EQ(core::output_queue::kept_buffers(), 1u);
    // The first two connections hold no output memory now; a third connection's head goes
    // into the same memory again.
    third.append("HTTP/1.1 200 OK\r\n");
    core::send_batch b;
    ASSERT_TRUE(third.take_front(b, 8, SIZE_MAX));
    EXPECT_EQ(b.segments()[0].owned.data(), first_memory);
    EXPECT_EQ(describe(b.segments()[0]), "HTTP/1.1 200 OK\r\n");
    EXPECT_EQ(core::output_queue::kept_buffers(), 0u);
    // With the list empty, a new buffer of the fresh capacity.
    first.append("next");
    core::send_batch c;
    ASSERT_TRUE(first.take_front(c, 8, SIZE_MAX));
    EXPECT_GE(c.segments()[0].owned.capacity(), core::output_queue::fresh_capacity);
    EXPECT_EQ(describe(c.segments()[0]), "next");
    core::output_queue::release_kept_buffers();
}

// At most kept_buffers_max buffers are kept (the rest freed), in LIFO order; a later
// response takes the most recently given one.
TEST(OutputQueueKeptBuffers, BoundHolds) {
    core::output_queue::release_kept_buffers();
    const size_t n = core::output_queue::kept_buffers_max + 40;
    std::vector<core::output_queue> queues(n);
    std::vector<std::string> held(n); // the buffers, taken out of their queues first
    std::vector<const char*> memory(n);
    for (size_t i = 0; i < n; ++i) {
        held[i].reserve(core::output_queue::fresh_capacity);
        memory[i] = held[i].data();
    }
    for (size_t i = 0; i < n; ++i) {
        core::output_queue::recycle(std::move(held[i]));
        EXPECT_EQ(core::output_queue::kept_buffers(), std::min(i + 1, core::output_queue::kept_buffers_max)) << i;
    }
    // The first kept_buffers_max were kept; the next response takes the last of them.
    for (size_t i = core::output_queue::kept_buffers_max; i-- > core::output_queue::kept_buffers_max - 3;) {
        queues[i].append("x");
        core::send_batch b;
        ASSERT_TRUE(queues[i].take_front(b, 8, SIZE_MAX));
        EXPECT_EQ(b.segments()[0].owned.data(), memory[i]) << i;
        b.consume(b.remaining());
        b.reset(); // (freed with the batch, not recycled)
    }
    EXPECT_EQ(core::output_queue::kept_buffers(), core::output_queue::kept_buffers_max - 3);
    core::output_queue::release_kept_buffers();
    EXPECT_EQ(core::output_queue::kept_buffers(), 0u);
    send_one(queues[0], 100); // kept again after a release
    EXPECT_EQ(core::output_queue::kept_buffers(), 1u);
    core::output_queue::release_kept_buffers();
}

// A buffer that grew large (a big body appended to the head) is freed, not kept; one up to
// kept_capacity_max is kept. So are a pipelined queue's buffers (the slow path), each.
TEST(OutputQueueKeptBuffers, GrownBufferIsNotKept) {
    core::output_queue::release_kept_buffers();
    core::output_queue q;
    send_one(q, core::output_queue::kept_capacity_max + 1000);
    EXPECT_EQ(core::output_queue::kept_buffers(), 0u);
    send_one(q, 1500);
    EXPECT_EQ(core::output_queue::kept_buffers(), 1u);
    std::string big;
    big.reserve(core::output_queue::kept_capacity_max * 2);
    core::output_queue::recycle(std::move(big));
    EXPECT_EQ(core::output_queue::kept_buffers(), 1u);
    // Something queued while the batch was in flight: the batch's buffer is kept all the same.
    core::output_queue::release_kept_buffers();
    q.append(std::string(700, 'a'));
    core::send_batch b;
    ASSERT_TRUE(q.take_front(b, 8, SIZE_MAX));
    q.append("pipelined");
    b.consume(b.remaining());
    q.recycle_from(b);
    b.reset();
    EXPECT_EQ(core::output_queue::kept_buffers(), 1u);
    EXPECT_EQ(describe_batches(q, 8, SIZE_MAX), std::vector<std::vector<std::string>>{{"pipelined"}});
    core::output_queue::release_kept_buffers();
}

// Each thread keeps its own list; a thread's list is freed at its exit (a sanitizer build
// would report a leak otherwise), and a buffer sent there never shows up here.
TEST(OutputQueueKeptBuffers, ListsArePerThread) {
    core::output_queue::release_kept_buffers();
    size_t other_kept = 0;
    std::thread t([&] {
        core::output_queue q;
        send_one(q, 100);
        send_one(q, 100);
        other_kept = core::output_queue::kept_buffers();
    });
    t.join();
    EXPECT_EQ(other_kept, 1u);
    EXPECT_EQ(core::output_queue::kept_buffers(), 0u);
}

} // namespace
} // namespace ringbolt::core
