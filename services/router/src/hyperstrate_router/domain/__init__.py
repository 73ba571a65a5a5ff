"""Aggregates, value objects, domain events and errors: pure Python, no I/O."""
