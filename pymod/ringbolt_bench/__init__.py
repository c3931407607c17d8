"""``ringbolt bench``: the load comparison harness (``harness.py``, standard library only,
run by path with the peers' interpreter, and the modules it runs: ``scenarios``,
``systems``, ``processes``, ``load_generators``, ``reporting``) with its wrk scripts and
nginx template, the on-demand installation of the peers it compares against
(``peers.py``) and the command line (``cli.py``). A top-level package of ringbolt's wheel
beside ``ringbolt``: the runtime package never imports it (``ringbolt bench`` hands its
arguments here by module name), and it imports nothing from ``ringbolt``."""
