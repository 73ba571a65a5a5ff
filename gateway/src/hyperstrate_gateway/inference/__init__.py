"""The gateway's inference path: InferAuth, router resolution, the NATS hop, SSE relay."""
