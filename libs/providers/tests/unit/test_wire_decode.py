"""A body that is not a JSON object is a WireDecodeError (a 400 for the caller), however it
fails: bad syntax, another JSON type, or nesting too deep for the decoder."""

from __future__ import annotations

import pytest

from hyperstrate_providers import WireDecodeError, decode_chat_request, decode_json_object


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"model": "x", ', "invalid JSON"),
        (b"", "invalid JSON"),
        (b'{"a": "\\ud800"}', "invalid JSON"),
        (b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested too deeply"),
        (b"[1, 2]", "expected a JSON object"),
    ],
)
def test_anything_but_a_json_object_is_a_wire_decode_error(body: bytes, reason: str) -> None:
    with pytest.raises(WireDecodeError, match=reason):
        decode_json_object(body)
    with pytest.raises(WireDecodeError, match=reason):
        decode_chat_request(body)


def test_a_json_object_comes_back_whole() -> None:
    assert decode_json_object(b'{"model": "m", "x_extra": [1]}') == {"model": "m", "x_extra": [1]}
