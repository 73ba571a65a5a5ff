"""hyperstrate auth.

Organisations, users, teams, sessions, OIDC, API keys, virtual keys, router team access.
"""
