"""hyperstrate observability.

Inference logs, usage and cost, health probes, audit log, webhooks, retention.
"""
