"""Put on a server's PYTHONPATH (with tests/fastapi_tutorial) by fastapi_live's
``ringbolt-swap`` mode: the server process imports ``fastapi`` and ``starlette`` as
ringbolt.fastapi before it imports the app, as the test process does under fastapi_swap."""

import fastapi_swap  # noqa: F401  (installs the swap on import)
