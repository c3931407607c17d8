"""OpenTelemetry tracing (docs/tracing.md): a span per request, exported over OTLP to the
collector OTEL_EXPORTER_OTLP_ENDPOINT names, with the handler's own span as its child.

    pip install 'ringbolt[otel]'
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 ringbolt serve tracing:app --app-dir examples
"""

import asyncio
from typing import Any

from opentelemetry import trace

from ringbolt import App, HTTPError, Request

app = App()
app.enable_tracing(service_name="orders")
tracer = trace.get_tracer(__name__)


@app.get("/orders/{order_id:int}")
async def order(req: Request) -> dict[str, Any]:
    order_id = req.params["order_id"]
    with tracer.start_as_current_span("load order") as span:  # a child of the request's span
        span.set_attribute("order.id", order_id)
        await asyncio.sleep(0.005)  # the database
    if order_id == 0:
        raise HTTPError(404, "no such order")
    return {"id": order_id, "status": "shipped"}
