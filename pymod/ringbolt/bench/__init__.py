"""``ringbolt bench``: the load comparison harness (``harness.py``, standard library only,
run by path with the peers' interpreter) with its wrk scripts, and the on-demand
installation of the peers it compares against (``peers.py``)."""
