// Micro-benchmarks for the WebSocket pieces: unmasking (32 B and 16 KB), UTF-8
// validation (16 KB ASCII and mixed text), frame header parsing, permessage-deflate
// compression and decompression of a 16 KB JSON-like message, and a connection's echo
// turn (frames in, the app's messages framed out, the queue sent).
#include "tests/support/json_like.hpp"
#include "ws/connection.hpp"
#include "ws/deflate.hpp"
#include "ws/frame.hpp"
#include "ws/utf8.hpp"

#include <benchmark/benchmark.h>

#include <random>
#include <string>

namespace {

using namespace ringbolt::ws;
using ringbolt::test_data::json_like;

const uint8_t mask[4] = {0x37, 0xFA, 0x21, 0x3D};

/// About 1/4 of the bytes in 2-4 byte characters, in short runs (chat-like text).
std::string mixed_text(size_t size) {
    const char* pieces[] = {"hello ",
                            "caf\xC3\xA9 ",
                            ("\xE2\x82\xAC"
                             "5 "), // one piece: split only to end the hex escape
                            "\xF0\x9F\x98\x80",
                            "world, ",
                            "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 "};
    std::mt19937 rng(7);
    std::string s;
    while (s.size() < size) {
        s += pieces[rng() % 6];
    }
    while (!valid_utf8(s)) {
        s.pop_back();
    }
    return s;
}

void BM_unmask(benchmark::State& state) {
    std::string buf(static_cast<size_t>(state.range(0)), 'x');
    for (auto _ : state) {
        unmask(buf.data(), buf.size(), mask, 1);
        benchmark::DoNotOptimize(buf.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_unmask)->Arg(32)->Arg(16384);

/// A message's payload taken from a receive buffer into the message being assembled,
/// in 4 KiB pieces as the reactor's buffer ring hands them: the way the connection did
/// it (append, then unmask in place) against what it does (grow, then one pass that
/// reads the buffer and writes the unmasked bytes).
void assemble(benchmark::State& state, bool fused) {
    const size_t size = static_cast<size_t>(state.range(0));
    const std::string wire(size, 'x');
    std::string msg;
    for (auto _ : state) {
        msg.clear();
        msg.reserve(size);
        for (size_t at = 0; at < size; at += 4096) {
            size_t n = size - at < 4096 ? size - at : 4096;
            if (fused) {
                msg.resize(at + n);
                unmask_copy(msg.data() + at, wire.data() + at, n, mask, at);
            } else {
                msg.append(wire.data() + at, n);
                unmask(msg.data() + at, n, mask, at);
            }
        }
        benchmark::DoNotOptimize(msg.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0));
}
void BM_assemble_append_then_unmask(benchmark::State& state) {
    assemble(state, false);
}
void BM_assemble_unmask_copy(benchmark::State& state) {
    assemble(state, true);
}
BENCHMARK(BM_assemble_append_then_unmask)->Arg(32)->Arg(16384);
BENCHMARK(BM_assemble_unmask_copy)->Arg(32)->Arg(16384);

void BM_utf8_ascii(benchmark::State& state) {
    const std::string text = json_like(16384, 42);
    for (auto _ : state) {
        utf8_validator v;
        benchmark::DoNotOptimize(v.feed(text));
        benchmark::DoNotOptimize(v.complete());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_utf8_ascii);

void BM_utf8_mixed(benchmark::State& state) {
    const std::string text = mixed_text(16384);
    for (auto _ : state) {
        utf8_validator v;
        benchmark::DoNotOptimize(v.feed(text));
        benchmark::DoNotOptimize(v.complete());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_utf8_mixed);

void BM_utf8_mixed_one_shot(benchmark::State& state) {
    const std::string text = mixed_text(16384);
    for (auto _ : state) {
        benchmark::DoNotOptimize(valid_utf8(text));
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_utf8_mixed_one_shot);

void BM_parse_frame(benchmark::State& state) {
    // A masked 16-bit-length binary frame header (the common size for app messages).
    const std::string header = std::string("\x82\xFE\x40\x00", 4) + std::string(reinterpret_cast<const char*>(mask), 4);
    for (auto _ : state) {
        frame_header h;
        frame_error err;
        benchmark::DoNotOptimize(parse_client_frame(header, false, h, err));
        benchmark::DoNotOptimize(h);
    }
}
BENCHMARK(BM_parse_frame);

void BM_deflate_compress(benchmark::State& state) {
    const std::string msg = json_like(16384, 42);
    deflate_params p;
    p.server_no_context_takeover = state.range(0) != 0;
    deflate_codec codec(p, deflate_config{});
    std::string out;
    for (auto _ : state) {
        out.clear();
        benchmark::DoNotOptimize(codec.compress(msg, out));
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(msg.size()));
    state.counters["ratio"] = double(out.size()) / double(msg.size());
}
BENCHMARK(BM_deflate_compress)->ArgName("no_takeover")->Arg(0)->Arg(1);

void BM_deflate_decompress(benchmark::State& state) {
    // Each message compressed on its own (no context takeover), so each inflates alone.
    const std::string msg = json_like(16384, 42);
    deflate_params p;
    p.server_no_context_takeover = true;
    p.client_no_context_takeover = state.range(0) != 0;
    std::string wire;
    {
        deflate_codec server(p, deflate_config{});
        if (!server.compress(msg, wire)) {
            state.SkipWithError("compress failed");
            return;
        }
    }
    deflate_codec codec(p, deflate_config{});
    std::string out;
    out.reserve(msg.size());
    for (auto _ : state) {
        out.clear();
        if (codec.decompress(wire, out, 1 << 20) != deflate_codec::inflate_result::ok) {
            state.SkipWithError("decompress failed");
            break;
        }
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(msg.size()));
}
BENCHMARK(BM_deflate_decompress)->ArgName("no_takeover")->Arg(0)->Arg(1);

} // namespace

namespace {

/// An application that takes every message at once (reading never pauses).
struct taking_channel final : app_channel {
    uint64_t messages = 0;
    void on_message(opcode, std::string&&) noexcept override { ++messages; }
    void on_closed(uint16_t, std::string_view) noexcept override {}
    uint64_t unconsumed() const noexcept override { return 0; }
    void on_framed(uint64_t, uint64_t) noexcept override {}
    void on_sent(size_t) noexcept override {}
};

struct no_dispatcher final : ringbolt::http::dispatcher {
    verdict on_request(ringbolt::http::protocol&, const ringbolt::http::request_event&, ringbolt::http::protocol_env&,
                       std::shared_ptr<ringbolt::http::body_stream>&) override {
        return verdict::answered;
    }
};

/// One turn of an HTTP/1.1-hosted WebSocket echo: 16 masked text frames of `size` bytes
/// in one read, the app's 16 messages back, the output queue taken as the reactor sends
/// it. What the session split (ws::session behind ws::connection, its output through
/// http::session_output) costs per message shows here.
void BM_connection_echo(benchmark::State& state) {
    auto size = static_cast<size_t>(state.range(0));
    std::string payload(size, 'x');
    std::string frame;
    frame.push_back(static_cast<char>(0x81));
    frame.push_back(static_cast<char>(0x80 | size)); // size < 126
    frame.append(reinterpret_cast<const char*>(mask), 4);
    for (size_t i = 0; i < size; ++i) {
        frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    }
    std::string input;
    for (int i = 0; i < 16; ++i) {
        input += frame;
    }
    ringbolt::http::connection_limits limits;
    ringbolt::core::core_counters counters;
    no_dispatcher dispatch;
    ringbolt::http::protocol_env env{limits, "Sun, 06 Nov 1994 08:49:37 GMT", 100, false, counters, dispatch};
    auto chan = std::make_shared<taking_channel>();
    connection conn(chan, settings{});
    conn.start({}, 100, counters);
    ringbolt::core::send_batch batch;
    for (auto _ : state) {
        conn.on_data(input, env);
        for (int i = 0; i < 16; ++i) {
            ringbolt::http::app_response m;
            m.parts = ringbolt::http::app_response::part_message;
            m.opcode = static_cast<uint8_t>(opcode::text);
            m.body = payload;
            conn.on_app_message(std::move(m), env);
        }
        while (conn.output().take_front(batch, 64, SIZE_MAX)) {
            batch.consume(batch.remaining());
            conn.output().recycle_from(batch);
            batch.reset();
        }
    }
    benchmark::DoNotOptimize(chan->messages);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 16);
}
BENCHMARK(BM_connection_echo)->Arg(16)->Arg(100);

} // namespace

BENCHMARK_MAIN();
