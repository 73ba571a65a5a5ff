"""Adapters of the inference hot path: NATS worker, catalog client, event publisher."""
