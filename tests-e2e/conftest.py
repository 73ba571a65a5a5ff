from stack_support import stack  # noqa: F401 - fixture
