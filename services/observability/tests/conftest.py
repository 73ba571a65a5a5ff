from observability_support import observability_client, observability_settings  # noqa: F401
