"""What the bridge keeps for the next request (pymod/native/bridge/kept_list.hpp), seen
through two of its lists of Python objects' memory, wsgi.input's and StartResponse's (at
most four each): the last one given is the first taken again, no more than the bound is
kept, and at exit (`_native._release_kept_lists`, registered with atexit) the kept memory
is freed and nothing is kept from then on. Each case runs in a fresh interpreter, since a
release is for good."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = r"""
import gc, json, sys
from ringbolt import _native

def status(*args):
    return 200

make = {
    "WSGIInput": lambda: _native.WSGIInput(b""),
    "StartResponse": lambda: _native.StartResponse(status, status),
}[sys.argv[1]]
gc.disable()

def blocks_freed_by(step):
    before = sys.getallocatedblocks()
    step()
    return before - sys.getallocatedblocks() + 1  # `before` is one block, made after its count

def free_in_order(objs):
    for i in range(len(objs)):  # the list keeps its size: only the objects are freed
        objs[i] = None

# Made with every key beforehand: filling it in allocates nothing while counting.
out = dict.fromkeys(["freed_of_six", "taken_again", "freed_by_release", "freed_of_six_after_release",
                     "freed_of_four_after_release"])
drain = [make() for _ in range(4)]  # takes whatever the list held: it is empty now
objs = [make() for _ in range(6)]
ids = [id(o) for o in objs]
out["freed_of_six"] = blocks_freed_by(lambda: free_in_order(objs))  # four kept, two freed
again = [make() for _ in range(4)]
out["taken_again"] = [ids.index(id(o)) if id(o) in ids else -1 for o in again]
free_in_order(again)  # kept again
out["freed_by_release"] = blocks_freed_by(_native._release_kept_lists)
objs = [make() for _ in range(6)]
out["freed_of_six_after_release"] = blocks_freed_by(lambda: free_in_order(objs))
out["freed_of_four_after_release"] = blocks_freed_by(lambda: free_in_order(drain))
print(json.dumps(out))
"""


@pytest.mark.parametrize("kind", ["WSGIInput", "StartResponse"])
def test_kept_memory_is_reused_last_first_up_to_the_bound_and_released_at_exit(kind: str) -> None:
    run = subprocess.run([sys.executable, "-c", SCRIPT, kind], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    # Six freed: four kept (their memory still allocated), two given back to the allocator.
    assert out["freed_of_six"] == 2
    # The next four are the kept ones, the last given first.
    assert out["taken_again"] == [3, 2, 1, 0]
    # The release frees the four kept again; after it nothing is kept, a free frees.
    assert out["freed_by_release"] == 4
    assert out["freed_of_six_after_release"] == 6
    assert out["freed_of_four_after_release"] == 4
