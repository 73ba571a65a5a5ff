"""A log record is one line, whatever its message and fields hold: a client's CR/LF (an
encoded path such as `/routers/x%0d%0aforged`) cannot forge a line in the service's log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from hyperstrate_kit.logs import ConsoleFormatter, JsonFormatter, request_id_var

FORGED = "/routers/x\r\n12:00:00.000 INFO admin logged in\u2028\x1b[2J"


def _logged(formatter: logging.Formatter, *, with_exception: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.logs.injection")
    logger.handlers[:] = [handler]
    logger.propagate = False
    token = request_id_var.set("req\nforged")
    try:
        fields = {"path": FORGED, "reason\r\nforged": "x\ny"}
        if with_exception:
            try:
                raise ValueError(f"bad path {FORGED}")
            except ValueError:
                logger.exception("GET %s %d", FORGED, 400, extra={"fields": fields})
        else:
            logger.warning("GET %s %d", FORGED, 400, extra={"fields": fields})
    finally:
        request_id_var.reset(token)
    return stream.getvalue()


@pytest.fixture(params=["json", "console", "colored"])
def formatter(request: pytest.FixtureRequest) -> Iterator[logging.Formatter]:
    if request.param == "json":
        yield JsonFormatter("test")
    else:
        yield ConsoleFormatter(colored=request.param == "colored")


def test_a_record_with_line_breaks_in_message_and_fields_is_one_line(
    formatter: logging.Formatter,
) -> None:
    output = _logged(formatter)
    assert output.endswith("\n")
    line = output[:-1]
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert "\x1b[2J" not in line  # nor can a value drive the terminal
    if isinstance(formatter, JsonFormatter):
        entry = json.loads(line)  # escaped, and nothing of the value lost
        assert entry["message"] == f"GET {FORGED} 400"
        assert entry["path"] == FORGED and entry["request_id"] == "req\nforged"
    else:
        assert "GET /routers/x\\r\\n12:00:00.000 INFO admin logged in\\u2028\\x1b[2J 400" in line
        assert "reason\\r\\nforged" in line and "request_id" in line and "req\\nforged" in line


def test_a_traceback_keeps_its_lines_but_none_can_pass_for_a_record(
    formatter: logging.Formatter,
) -> None:
    output = _logged(formatter, with_exception=True)
    lines = output[:-1].split("\n")
    if isinstance(formatter, JsonFormatter):
        assert len(lines) == 1 and "ValueError" in json.loads(lines[0])["exception"]
    else:
        assert len(lines) > 1 and "Traceback" in lines[1]
        assert all(line.startswith("    ") for line in lines[1:])
        # The exception's own line breaks stay in the (indented) traceback; a CR is escaped.
        assert "    ValueError: bad path /routers/x\\r" in lines
        assert "    12:00:00.000 INFO admin logged in\\u2028\\x1b[2J" in lines
