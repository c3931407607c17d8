"""ringbolt_app.py's routes with tracing on (app.enable_tracing, docs/tracing.md), for
benchmarks/load/instr_per_request.py: what a traced request costs. Spans go through the
SDK's BatchSpanProcessor to an exporter that encodes each batch as OTLP protobuf (the
OTLP exporters' own encoder) and sends nothing, so the count is ringbolt's and the SDK's
work without a collector's network round trip.

    python -m ringbolt serve benchmarks.load.apps.ringbolt_traced:app --port PORT --threads 1

(``:unexported`` and ``:unsampled`` for the parts of it, see traced_app.)
"""
from typing import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

if __package__:  # benchmarks.load.apps.ringbolt_traced
    from .ringbolt_app import make_app
else:  # ringbolt_traced, with the apps folder on the path (--app-dir, the bench harness)
    from ringbolt_app import make_app


class EncodeOnly(SpanExporter):
    """Encodes the batch as the OTLP exporters do, then drops it."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(encode_spans(spans).SerializeToString())
        return SpanExportResult.SUCCESS


def traced_app(mode: str):
    """ringbolt_app's routes traced; ``mode``, what each request pays for: "export" spans
    batched and encoded; "unexported" spans made and ended, with no processor;
    "unsampled" the sampler says no (the wrapper, the propagator and the SDK's
    non-recording span only)."""
    provider = TracerProvider(sampler=ALWAYS_OFF if mode == "unsampled" else ALWAYS_ON)
    if mode == "export":
        provider.add_span_processor(BatchSpanProcessor(EncodeOnly()))
    traced = make_app()
    traced.enable_tracing(provider)
    return traced


app = traced_app("export")
unexported = traced_app("unexported")  # benchmarks.load.apps.ringbolt_traced:unexported
unsampled = traced_app("unsampled")
