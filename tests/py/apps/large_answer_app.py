"""Large JSON answers (test_large_answers.py): 1.3 MB of JSON from a sync and an async
handler, the shape of Litestar's api-performance-tests 1M case (a list of dicts)."""
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
