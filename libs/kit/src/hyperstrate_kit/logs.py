"""Structured logging: colored lines on a terminal, JSON lines otherwise.

Extra fields passed with `logger.info("...", extra={"fields": {...}})` are emitted as keys.
One record is one line in either format: a message or field value holding CR, LF or another
control character (a client's path, say) is written escaped, so it cannot forge a line.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

__all__ = ["ConsoleFormatter", "JsonFormatter", "configure_logging", "one_line", "request_id_var"]

# Set by the request-id middleware so every log line of a request carries it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's duplicate of the message
}
_COLORS = {"DEBUG": "\x1b[36m", "INFO": "\x1b[32m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m"}
_DIM, _RESET = "\x1b[2m", "\x1b[0m"
# C0 controls, DEL, and the characters some viewers also take for line breaks (NEL, LS, PS);
# ESC among them, so a value cannot paint the terminal either.
_ESCAPES = {code: ascii(chr(code))[1:-1] for code in (*range(0x20), 0x7F, 0x85, 0x2028, 0x2029)}


# JSON escapes the C0 controls itself; these three it may leave raw, valid in JSON but line
# breaks to some log viewers.
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in (0x85, 0x2028, 0x2029)}


def one_line(value: object) -> str:
    """`value` as text on a single line: control characters written as Python escapes."""
    return str(value).translate(_ESCAPES)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key == "fields" and isinstance(value, dict):
            fields.update(value)
        elif key not in _RESERVED and not key.startswith("_"):
            fields[key] = value
    request_id = request_id_var.get()
    if request_id and "request_id" not in fields:
        fields["request_id"] = request_id
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, service, message, then the fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        self._encoder = msgspec.json.Encoder(enc_hook=str)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": self._service,
            "message": record.getMessage(),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._encoder.encode(entry).decode().translate(_JSON_ESCAPES)


class ConsoleFormatter(logging.Formatter):
    """Readable lines for a developer, colored on a terminal."""

    def __init__(self, colored: bool) -> None:
        super().__init__()
        self._colored = colored

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self._colored else text

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        level = self._paint(_COLORS.get(record.levelname, ""), record.levelname[:4])
        extras = " ".join(
            f"{self._paint(_DIM, one_line(k) + '=')}{one_line(v)}"
            for k, v in _fields(record).items()
        )
        line = f"{self._paint(_DIM, time)} {level} {one_line(record.getMessage())}"
        if extras:
            line = f"{line} {extras}"
        if record.exc_info:
            # A traceback keeps its lines, each indented: none can pass for a record.
            traceback = self.formatException(record.exc_info).split("\n")
            line = "\n    ".join([line, *map(one_line, traceback)])
        return line


def configure_logging(
    service: str,
    *,
    level: str = "INFO",
    log_format: Literal["auto", "json", "console"] = "auto",
) -> None:
    """Install the root handler on stderr: console when it is a TTY (or asked), JSON otherwise."""
    on_terminal = sys.stderr.isatty()
    use_console = log_format == "console" or (log_format == "auto" and on_terminal)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter(on_terminal) if use_console else JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our request logger replaces the servers' access logs.
    for noisy in ("uvicorn.access", "granian.access"):
        logging.getLogger(noisy).disabled = True
    for chatty in ("nats", "asyncio", "alembic.runtime.migration"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))
