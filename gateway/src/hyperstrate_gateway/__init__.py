"""hyperstrate gateway.

Edge service: InferAuth, per-key rate limits, the NATS hop to the router, admin proxy.
"""
