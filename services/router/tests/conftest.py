from router_support import router_app  # noqa: F401 - fixture
