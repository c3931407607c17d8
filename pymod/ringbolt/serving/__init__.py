"""ringbolt's the servers and the command line: ASGI and WSGI serving, the event loop, listeners, TLS options, the supervisor, gunicorn's worker."""
