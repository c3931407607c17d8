"""ringbolt app with constant routes: ringbolt_app's routes, those whose answer does not
depend on the request served natively after one call at start-up (see make_app).

    python -m ringbolt serve benchmarks.load.apps.ringbolt_const:app --host 127.0.0.1 --port PORT --threads 1
"""
if __package__:  # benchmarks.load.apps.ringbolt_const
    from .ringbolt_app import make_app
else:  # ringbolt_const, with the apps folder on the path (--app-dir, the bench harness)
    from ringbolt_app import make_app

app = make_app(const=True)
