"""FastAPI's ``fastapi.openapi``: ``utils.get_openapi`` (the document of a list of
routes), ``docs`` (the Swagger UI and ReDoc pages) and ``constants``, over ringbolt's
own document and pages (docs/openapi.md)."""
