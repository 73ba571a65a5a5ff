from auth_support import auth_client, auth_settings  # noqa: F401 - fixtures
