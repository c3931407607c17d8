"""A count of the runs of a handler under way at once, for the apps whose tests check a
bound on concurrency: h2_app.py's /inflight, trust_apps.py's /work and /peak."""


class InFlight:
    """Counts the handlers inside ``with`` it: ``now``, the most at once so far (``peak``)
    and how many have left (``done``)."""

    def __init__(self) -> None:
        self.now = self.peak = self.done = 0

    def __enter__(self) -> "InFlight":
        self.now += 1
        self.peak = max(self.peak, self.now)
        return self

    def __exit__(self, *exc: object) -> None:
        self.now -= 1
        self.done += 1
