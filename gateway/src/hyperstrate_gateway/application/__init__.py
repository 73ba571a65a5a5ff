"""Use cases (commands and queries) and the ports they need."""
