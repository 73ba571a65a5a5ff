"""OpenTelemetry tracing from the environment, and W3C trace context across NATS.

With no OTLP endpoint configured, no SDK is installed: spans are no-ops, yet an incoming
`traceparent` is still carried through (extract, then inject) so traces stay connected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

from hyperstrate_contracts.metadata import TRACEPARENT

__all__ = [
    "TRACEPARENT",
    "configure_tracing",
    "current_trace_id",
    "current_traceparent",
    "extract_context",
    "inject_headers",
    "tracer",
]


def configure_tracing(
    service_name: str,
    *,
    otlp_endpoint: str = "",
    sampler_ratio: float = 1.0,
    processors: tuple[SpanProcessor, ...] = (),
) -> TracerProvider | None:
    """Install the tracing SDK when an OTLP endpoint (or a processor, in tests) is given."""
    if not otlp_endpoint and not processors:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"hyperstrate-{service_name}"}),
        sampler=ParentBasedTraceIdRatio(sampler_ratio),
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
            OTLPSpanExporter,
        )

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces"))
        )
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    """The tracer of the kit and the services."""
    return trace.get_tracer("hyperstrate")


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers with the current trace context (`traceparent`) added."""
    carrier: dict[str, str] = dict(headers or {})
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, Any] | None) -> context.Context:
    """The trace context carried by message or request headers."""
    return propagate.extract(dict(headers or {}))


def current_traceparent() -> str | None:
    """The `traceparent` of the current span, if any (stored with appended events)."""
    return inject_headers().get(TRACEPARENT)


def current_trace_id() -> str:
    """The W3C trace id (32 hex digits) of the current span or of the caller's attached
    `traceparent`; empty when there is none."""
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else ""
