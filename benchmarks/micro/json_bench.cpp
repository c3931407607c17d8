// ringbolt's JSON writer (Python objects -> JSON) and reader (simdjson -> Python objects),
// with an embedded interpreter: the same code the handlers' dict/list results go through.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pymod/native/json/json_py.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

PyObject* g_small = nullptr;  // {"message": "Hello, World!"}
PyObject* g_medium = nullptr; // 20 records of mixed types (~1.6 KB of JSON)
std::string g_medium_text;

PyObject* eval(const char* expr) {
    PyObject* globals = PyDict_New();
    PyObject* v = PyRun_String(expr, Py_eval_input, globals, globals);
    Py_DECREF(globals);
    return v;
}

void bm_write_small_dict(benchmark::State& state) {
    std::string out;
    for (auto _ : state) {
        out.clear();
        ringbolt::py::write_json(g_small, out);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(bm_write_small_dict);

void bm_write_records(benchmark::State& state) {
    std::string out;
    for (auto _ : state) {
        out.clear();
        ringbolt::py::write_json(g_medium, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(bm_write_records);

void bm_parse_records(benchmark::State& state) {
    std::string padded = g_medium_text;
    padded.reserve(padded.size() + ringbolt::py::json_padding);
    for (auto _ : state) {
        PyObject* v = ringbolt::py::parse_json(padded.data(), padded.size(), true, nullptr);
        benchmark::DoNotOptimize(v);
        Py_XDECREF(v);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * padded.size()));
}
BENCHMARK(bm_parse_records);

} // namespace

int main(int argc, char** argv) {
    Py_Initialize();
    g_small = eval("{'message': 'Hello, World!'}");
    g_medium = eval("[{'id': i, 'name': f'user{i}', 'score': i * 1.5, 'active': i % 2 == 0, "
                    "'tags': ['a', 'b\\n'], 'parent': None} for i in range(20)]");
    if (g_small == nullptr || g_medium == nullptr || !ringbolt::py::write_json(g_medium, g_medium_text)) {
        PyErr_Print();
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    Py_DECREF(g_small);
    Py_DECREF(g_medium);
    Py_Finalize();
    return 0;
}
