"""Typed configs of features and interceptors: the base Struct and the parser behind
`parse_feature_config` / `parse_interceptor_config`. Pure Python, no I/O.

A config arrives as a JSON object (camelCase keys) from the admin API or a ROUTER event and
leaves as a frozen Struct; `config_to_dict` gives the canonical JSON object back (every field,
defaults filled in), which is what events carry and what parses again to the same Struct.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from hyperstrate_kit.errors import InvalidInputError

__all__ = [
    "ErrorClass",
    "InvalidConfigError",
    "ResetPeriod",
    "TypedConfig",
    "config_to_dict",
    "parse_config",
]

C = TypeVar("C", bound="TypedConfig")

#: Failure classes a retry or a fallback reacts to.
ErrorClass = Literal["rate_limited", "server_error", "timeout", "connection"]
ERROR_CLASSES: tuple[ErrorClass, ...] = ("rate_limited", "server_error", "timeout", "connection")
ResetPeriod = Literal["daily", "weekly", "monthly"]
#: A short text (a term, a name, an id): no NUL (PostgreSQL refuses it), bounded length.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^[^\x00]*$")]
Text = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^[^\x00]*$")]
Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class InvalidConfigError(InvalidInputError):
    """A feature or interceptor config broke a rule; `fields` names `config.<field>`."""

    default_message = "invalid config"


class TypedConfig(msgspec.Struct, frozen=True, kw_only=True, rename="camel",
                  forbid_unknown_fields=True):  # fmt: skip
    """Base of every feature and interceptor config: camelCase keys, typos rejected."""

    def problems(self) -> dict[str, list[str]]:
        """Rules across fields, keyed by camelCase field path (empty: valid)."""
        return {}


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


def _error_path(message: str, prefix: str) -> tuple[str, str]:
    """("config.a.b", message) from msgspec's "Expected `int` - at `$.a.b`"."""
    match = _AT.match(message)
    assert match is not None  # the pattern matches any text
    text, path = match.group("message"), match.group("path") or ""
    named = _NAMED.search(text)
    if named:
        path = f"{path}.{named.group(1)}"
    return f"{prefix}{path}", text


def parse_config(cls: type[C], config: Mapping[str, Any] | None, prefix: str = "config") -> C:
    """`config` as a `cls`, or `InvalidConfigError` naming the offending field path."""
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise InvalidConfigError(f"invalid {prefix}", {prefix: ["must be an object"]})
    try:
        parsed = msgspec.convert(dict(config), cls)
    except msgspec.ValidationError as exc:
        field, message = _error_path(str(exc), prefix)
        raise InvalidConfigError(f"invalid {field}: {message}", {field: [message]}) from None
    problems = {
        f"{prefix}.{name}" if name else prefix: messages
        for name, messages in parsed.problems().items()
    }
    if problems:
        first = next(iter(problems))
        raise InvalidConfigError(f"invalid {first}: {problems[first][0]}", problems)
    return parsed


def config_to_dict(config: TypedConfig) -> dict[str, Any]:
    """The canonical JSON object of a config (camelCase, every field present)."""
    # Through JSON, so sequences are lists and the dict equals what an event decodes to.
    result: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(config))
    return result


def repeated(values: tuple[Any, ...], field: str) -> dict[str, list[str]]:
    """A problem naming the first value that occurs twice in `values`, if any."""
    seen: set[Any] = set()
    for index, value in enumerate(values):
        if value in seen:
            return {f"{field}[{index}]": [f"{value!r} is listed twice"]}
        seen.add(value)
    return {}


__all__ += ["ERROR_CLASSES", "Fraction", "Id", "Name", "Text", "repeated"]
