from auth_support import auth_client  # noqa: F401 - fixture
