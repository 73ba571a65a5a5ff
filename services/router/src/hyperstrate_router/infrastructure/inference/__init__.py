"""Adapters of the inference hot path: NATS worker, catalog client, event publisher, and the
Redis-backed cache, rate limiter and budget ledger."""
