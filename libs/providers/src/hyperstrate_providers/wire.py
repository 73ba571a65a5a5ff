"""A JSON object as it travelled over the wire, together with its typed view.

The typed msgspec Structs in :mod:`openai_types` and :mod:`anthropic_types` only know the fields
this gateway understands. Providers add fields all the time (``service_tier``, ``x_groq``,
``prediction``, new content-part keys...), and a gateway must not silently drop them. A
:class:`WireObject` therefore keeps the decoded JSON object (``raw``) as the source of truth and
derives the typed view from it. Re-encoding a ``WireObject`` for the same provider writes ``raw``
back, so nothing is lost; :meth:`WireObject.replace` changes top-level fields in both views.

Objects produced by translation have no wire form yet: they are built from the typed view and
their ``raw`` form is computed on demand.
"""

from __future__ import annotations

import functools
from typing import Any, Generic, TypeVar

import msgspec

__all__ = ["WireDecodeError", "WireObject", "decode_json_object"]

T = TypeVar("T", bound=msgspec.Struct)

_json_decoder = msgspec.json.Decoder()
_json_encoder = msgspec.json.Encoder()


class WireDecodeError(ValueError):
    """The bytes are not a JSON object of the expected shape; the message names the path."""


def decode_json_object(data: bytes | str) -> dict[str, Any]:
    """The JSON object in ``data``; :class:`WireDecodeError` for anything else, nesting too
    deep to decode included."""
    try:
        raw = _json_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise WireDecodeError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise WireDecodeError("invalid JSON: nested too deeply") from None
    if not isinstance(raw, dict):
        raise WireDecodeError("expected a JSON object")
    return raw


class WireObject(Generic[T]):
    """A wire JSON object (``raw``) and its typed view (``typed``), kept consistent."""

    __slots__ = ("_raw", "_typed")

    def __init__(self, typed: T, raw: dict[str, Any] | None = None) -> None:
        """Wrap ``typed``; ``raw`` is the JSON object it was decoded from, if any."""
        self._typed = typed
        self._raw = raw

    @classmethod
    def decode(cls, data: bytes | str, type_: type[T]) -> WireObject[T]:
        """Decode JSON bytes into the raw object and its typed view of ``type_``."""
        return cls.from_raw(decode_json_object(data), type_)

    @classmethod
    def from_raw(cls, raw: dict[str, Any], type_: type[T]) -> WireObject[T]:
        """Build the typed view of an already decoded JSON object."""
        try:
            typed = msgspec.convert(raw, type_)
        except msgspec.ValidationError as exc:
            raise WireDecodeError(str(exc)) from None
        return cls(typed, raw)

    @property
    def typed(self) -> T:
        """The typed view: only the fields the gateway understands."""
        return self._typed

    @property
    def raw(self) -> dict[str, Any]:
        """The JSON object with every field, known or not."""
        if self._raw is None:
            built = msgspec.to_builtins(self._typed)
            assert isinstance(built, dict)
            self._raw = built
        return self._raw

    @property
    def extra_fields(self) -> dict[str, Any]:
        """Top-level fields the typed view does not know (passed through on re-encoding)."""
        known = set(_encode_names(type(self._typed)).values())
        return {key: value for key, value in self.raw.items() if key not in known}

    def replace(self, **changes: Any) -> WireObject[T]:
        """Return a copy with top-level fields changed; values may be Structs or builtins.

        A value of ``None`` removes the field. Unknown fields of the original survive.
        """
        raw = dict(self.raw)
        for name, value in changes.items():
            encode_name = _encode_name(type(self._typed), name)
            if value is None:
                raw.pop(encode_name, None)
            else:
                raw[encode_name] = msgspec.to_builtins(value)
        return WireObject.from_raw(raw, type(self._typed))

    def encode(self) -> bytes:
        """Encode as JSON: the raw object when there is one, else the typed view."""
        if self._raw is None:
            return _json_encoder.encode(self._typed)
        return _json_encoder.encode(self._raw)

    def __repr__(self) -> str:
        return f"WireObject({self._typed!r})"


@functools.cache
def _encode_names(struct_type: type[msgspec.Struct]) -> dict[str, str]:
    """Attribute name -> wire name, computed once per type (msgspec resolves annotations on
    every `structs.fields` call, which is far too slow for the hot path)."""
    return {field.name: field.encode_name for field in msgspec.structs.fields(struct_type)}


def _encode_name(struct_type: type[msgspec.Struct], attribute: str) -> str:
    return _encode_names(struct_type).get(attribute, attribute)
