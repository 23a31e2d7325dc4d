"""The OpenTelemetry SDK set up as an app sets it up: a tracer provider for
one service, an OTLP exporter (HTTP or gRPC) behind a batch or simple span
processor. Shared by the test agents in this folder."""

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor


def exporter(transport, endpoint):
    if transport == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, insecure=True)


def tracer_provider(transport, processor, endpoint, service):
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    span_processor = BatchSpanProcessor if processor == "batch" else SimpleSpanProcessor
    provider.add_span_processor(span_processor(exporter(transport, endpoint)))
    return provider
