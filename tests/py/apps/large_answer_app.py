"""Large JSON answers (test_large_answers.py): 1.3 MB of JSON from a sync and an async
handler, the shape of Litestar's api-performance-tests 1M case (a list of dicts)."""
import resource

from ringbolt import App

app = App()

ROWS = [{"id": i, "name": f"person {i}", "email": f"p{i}@example.org", "tags": ["a", "b", "c"],
         "score": i * 0.5, "active": i % 2 == 0} for i in range(12000)]


@app.get("/big")
def big(req):
    return ROWS


@app.get("/big-async")
async def big_async(req):
    return ROWS


@app.get("/alloc-faults")
def alloc_faults(req):
    """Ten 1.3 MB bytes objects made and freed one after the other: this thread's minor
    page faults meanwhile."""
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(10):
        block = b"x" * 1_300_000
        del block
    return {"faults": resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before}
