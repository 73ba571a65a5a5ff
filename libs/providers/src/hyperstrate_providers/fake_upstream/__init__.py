"""A fake OpenAI-, Anthropic-, Azure- and Gemini-compatible upstream for tests, demos and
benchmarks, scriptable per request (see :mod:`.script` for the grammar).

In process::

    async with FakeUpstream() as upstream:
        base_url = upstream.base_url

or ``async with start_fake_upstream() as base_url``. As a process:
``python -m hyperstrate_providers.fake_upstream --host 127.0.0.1 --port 8400``.
"""

from hyperstrate_providers.fake_upstream.routes import DEFAULT_MODELS, RecordedRequest
from hyperstrate_providers.fake_upstream.script import (
    FakeScript,
    ScriptError,
    parse_script,
    script_from,
)
from hyperstrate_providers.fake_upstream.server import FakeUpstream, start_fake_upstream

__all__ = [
    "DEFAULT_MODELS",
    "FakeScript",
    "FakeUpstream",
    "RecordedRequest",
    "ScriptError",
    "parse_script",
    "script_from",
    "start_fake_upstream",
]
