from kit_support import test_stream  # noqa: F401 - fixture
