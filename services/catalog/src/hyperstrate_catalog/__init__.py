"""hyperstrate catalog.

Model catalog, registrations, direct inference, async jobs, conversations, MCP registry.
"""
