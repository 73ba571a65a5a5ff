"""Structured logging: colored lines on a terminal, JSON lines otherwise.

Extra fields passed with `logger.info("...", extra={"fields": {...}})` are emitted as keys.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

__all__ = ["configure_logging", "request_id_var"]

# Set by the request-id middleware so every log line of a request carries it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's duplicate of the message
}
_COLORS = {"DEBUG": "\x1b[36m", "INFO": "\x1b[32m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m"}
_DIM, _RESET = "\x1b[2m", "\x1b[0m"


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
        return self._encoder.encode(entry).decode()


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
        extras = " ".join(f"{self._paint(_DIM, k + '=')}{v}" for k, v in _fields(record).items())
        line = f"{self._paint(_DIM, time)} {level} {record.getMessage()}"
        if extras:
            line = f"{line} {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
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
