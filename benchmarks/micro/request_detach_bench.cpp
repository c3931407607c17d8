// What release_request's unconditional detach costs per request: moving an app_request
// (a typical GET) into a Request object's storage and destroying it there, and the
// larger object allocation (PyObject_Malloc of the old and the new request_object size).
#include "dispatch/app_request.hpp"

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <benchmark/benchmark.h>

#include <memory>

namespace {

using namespace ringbolt::http;
using namespace ringbolt::dispatch;

app_request typical_get() {
    app_request r;
    r.data = "GET /users/42?x=1 HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n";
    r.data.reserve(r.data.size() + app_request_padding);
    for (uint32_t i = 0; i < 6; ++i) {
        r.headers.push_back({i * 8, 6});
    }
    r.num_params = 1;
    return r;
}

// Before: the request stays in the batch and is destroyed when the batch is cleared.
void bm_request_in_batch(benchmark::State& state) {
    for (auto _ : state) {
        app_request r = typical_get();
        benchmark::DoNotOptimize(r.data.data());
    }
}

// After: the same, plus the move into the object's storage (destroyed with the object).
void bm_request_detached(benchmark::State& state) {
    alignas(app_request) static unsigned char storage[sizeof(app_request)];
    for (auto _ : state) {
        app_request r = typical_get();
        app_request* owned = std::construct_at(reinterpret_cast<app_request*>(storage), std::move(r));
        benchmark::DoNotOptimize(owned->data.data());
        std::destroy_at(owned);
    }
}

// The Request object with its GC header (16 bytes): 120 bytes before (pymalloc's pools),
// 712 after, with the request's storage (over pymalloc's 512-byte limit: malloc).
void bm_object_alloc(benchmark::State& state) {
    if (!Py_IsInitialized()) {
        Py_InitializeEx(0);
    }
    auto size = static_cast<size_t>(state.range(0));
    for (auto _ : state) {
        void* p = PyObject_Malloc(size);
        benchmark::DoNotOptimize(p);
        PyObject_Free(p);
    }
}

} // namespace

BENCHMARK(bm_request_in_batch);
BENCHMARK(bm_request_detached);
BENCHMARK(bm_object_alloc)->Arg(120)->Arg(712);
BENCHMARK_MAIN();
