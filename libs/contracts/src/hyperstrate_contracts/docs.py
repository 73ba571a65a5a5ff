"""`python -m hyperstrate_contracts.docs > docs/events.md`: the event reference for subscribers.

Generated from the contracts themselves (every module of this package): the streams, every
event with its subject and payload fields, the durable consumers and the other messages
(request/reply and work-queue payloads). A test compares the file with this output, so the
document cannot fall behind the code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import types
import typing
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import msgspec

import hyperstrate_contracts
from hyperstrate_contracts.events import Event
from hyperstrate_contracts.metadata import EVENT_HEADERS
from hyperstrate_contracts.streams import STREAMS, ConsumerSpec, Retention, StreamSpec

__all__ = ["generate", "main"]

_ENVELOPE = {f.name for f in msgspec.structs.fields(Event)}
_JSON_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    datetime: "date-time (RFC 3339)",
    date: "date",
    dict: "object",
    list: "array",
    Any: "any",
}
_SKIPPED_MODULES = {"docs", "events", "metadata", "streams"}


def _modules() -> list[types.ModuleType]:
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(hyperstrate_contracts.__path__)
        if info.name not in _SKIPPED_MODULES and not info.name.startswith("_")
    )
    return [importlib.import_module(f"hyperstrate_contracts.{name}") for name in names]


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f'`"{arg}"`' if isinstance(arg, str) else f"`{arg}`" for arg in args)
    if origin in (types.UnionType, typing.Union):
        return " \\| ".join(_type_name(arg) for arg in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is not None:
        if origin in (list, tuple, set, frozenset):
            items = [arg for arg in args if arg is not Ellipsis]
            return f"array of {_type_name(items[0])}" if len(set(items)) == 1 else "array"
        if origin is dict:
            return f"object of {_type_name(args[1])}" if len(args) == 2 else "object"
        return str(annotation)
    if annotation in _JSON_NAMES:
        return _JSON_NAMES[annotation]
    return getattr(annotation, "__name__", str(annotation))


def _default(field: msgspec.structs.FieldInfo) -> str:
    if field.required:
        return "required"
    if field.default_factory is not msgspec.NODEFAULT:
        if field.default_factory in (list, tuple, dict, set, frozenset):
            return f"`{msgspec.json.encode(field.default_factory()).decode()}`"
        return "generated"  # a new id, the current time...
    try:
        return f"`{msgspec.json.encode(field.default).decode()}`"
    except TypeError:
        return f"`{field.default!r}`"


def _fields_table(cls: type[msgspec.Struct], skip: Iterable[str] = ()) -> list[str]:
    hidden = set(skip)
    rows = [
        f"| `{field.encode_name}` | {_type_name(field.type)} | {_default(field)} |"
        for field in msgspec.structs.fields(cls)
        if field.name not in hidden
    ]
    if not rows:
        return ["No fields besides the envelope."]
    return ["| field | type | default |", "| --- | --- | --- |", *rows]


def _doc(obj: Any) -> str:
    text = inspect.getdoc(obj) or ""
    inherited = (
        {inspect.getdoc(base) for base in type.mro(obj)[1:]} if isinstance(obj, type) else set()
    )
    return "" if text in inherited else " ".join(text.split())


def _stream_of(subject: str) -> StreamSpec | None:
    for stream in STREAMS:
        for pattern in stream.subjects:
            if subject.startswith(pattern.rstrip(">")):
                return stream
    return None


def _retention(stream: StreamSpec) -> str:
    if stream.retention is Retention.WORK_QUEUE:
        return "work queue (a message goes once it is acked)"
    if stream.max_age_seconds:
        return f"kept {stream.max_age_seconds / 86400:g} days"
    return "kept whole"


def generate() -> str:
    """The whole document, as markdown."""
    modules = _modules()
    events: dict[str, type[Event]] = {}
    consumers: list[ConsumerSpec] = []
    messages: dict[str, type[msgspec.Struct]] = {}
    subjects: dict[str, str] = {}
    for module in modules:
        for name, value in sorted(vars(module).items()):
            if isinstance(value, type) and issubclass(value, Event) and value is not Event:
                tag = value.__struct_config__.tag
                if isinstance(tag, str) and value.__module__ == module.__name__:
                    events[tag] = value
            elif isinstance(value, type) and issubclass(value, msgspec.Struct):
                struct: type[msgspec.Struct] = value
                if struct.__module__ == module.__name__ and not name.startswith("_"):
                    messages[f"{module.__name__.rsplit('.', 1)[1]}.{name}"] = struct
            elif isinstance(value, ConsumerSpec):
                consumers.append(value)
            elif name.endswith("_SUBJECT") and isinstance(value, str):
                subjects[value] = f"{module.__name__.rsplit('.', 1)[1]}.{name}"

    out = [
        "# Events and streams",
        "",
        "<!-- Generated by `python -m hyperstrate_contracts.docs > docs/events.md`;"
        " do not edit by hand. -->",
        "",
        "Every hyperstrate service publishes its state changes as events on NATS JetStream.",
        "An event's type is also its subject (`<service>.<aggregate>.<event>`, past tense), its",
        "body is JSON, and its `Nats-Msg-Id` header is its `event_id`, so a re-published event",
        "is dropped by the stream's duplicate window. A W3C `traceparent` header carries the",
        "trace. Subscribe with a durable pull consumer, ack explicitly, and treat `event_id` as",
        "the key that makes your handling idempotent (delivery is at least once). See",
        "`examples/subscriber.py` for a complete subscriber.",
        "",
        "## Streams",
        "",
        "| stream | subjects | retention | duplicate window | about |",
        "| --- | --- | --- | --- | --- |",
    ]
    for stream in STREAMS:
        subjects_text = ", ".join(f"`{s}`" for s in stream.subjects)
        out.append(
            f"| `{stream.name}` | {subjects_text} | {_retention(stream)} | "
            f"{stream.duplicate_window_seconds:g} s | {stream.description} |"
        )
    out += [
        "",
        "## The envelope",
        "",
        "Every event carries these fields besides its own:",
        "",
        "| field | type | default |",
        "| --- | --- | --- |",
        "| `type` | string | the event type, which is also the subject |",
        *_fields_table(Event)[2:],
        "",
        "`aggregate_id` is the id of the thing the event is about; `aggregate_version` its",
        "version after the event; `version` the schema version of the payload (a breaking",
        "change bumps it). New fields always come with defaults: ignore fields you do not know.",
        "",
        "## Headers",
        "",
        "Besides `Nats-Msg-Id`, an event carries its writer's metadata as headers (ids, never",
        "secrets; a header is absent when its value is unknown):",
        "",
        "| header | holds |",
        "| --- | --- |",
        *(f"| `{name}` | {about} |" for name, about in EVENT_HEADERS),
    ]
    for stream in STREAMS:
        in_stream = sorted(tag for tag in events if _stream_of(tag) is stream)
        if not in_stream:
            continue
        out += ["", f"## {stream.name} events", ""]
        for tag in in_stream:
            cls = events[tag]
            out += [f"### `{tag}`", ""]
            description = _doc(cls)
            if description:
                out += [description, ""]
            out += _fields_table(cls, _ENVELOPE)
            out.append("")
        if out[-1] == "":
            out.pop()
    if consumers:
        out += [
            "",
            "## Durable consumers declared in the contracts",
            "",
            "| stream | durable | subjects | max deliveries | ack wait | about |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for spec in sorted(consumers, key=lambda c: (c.stream, c.durable)):
            filtered = ", ".join(f"`{s}`" for s in spec.filter_subjects) or "all"
            out.append(
                f"| `{spec.stream}` | `{spec.durable}` | {filtered} | {spec.max_deliver} | "
                f"{spec.ack_wait_seconds:g} s | {spec.description} |"
            )
    if subjects:
        out += [
            "",
            "## Other subjects",
            "",
            "Request/reply (`svc.*`) and work-queue subjects; a reply with the `Hs-Error` header "
            "carries `{code, message}`.",
            "",
            "| subject | constant |",
            "| --- | --- |",
            *(f"| `{subject}` | `{name}` |" for subject, name in sorted(subjects.items())),
        ]
    if messages:
        out += ["", "## Other messages", ""]
        for name, message in sorted(messages.items()):
            out += [f"### `{name}`", ""]
            description = _doc(message)
            if description:
                out += [description, ""]
            out += [*_fields_table(message), ""]
        out.pop()
    return "\n".join(out) + "\n"


def main() -> int:
    """Print the document."""
    sys.stdout.write(generate())
    return 0


if __name__ == "__main__":
    sys.exit(main())
