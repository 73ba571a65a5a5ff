"""Inference bodies a provider would refuse are refused at the edge, naming the parameter in
each wire format's own way; every body a provider accepts passes untouched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hyperstrate_providers.request_checks import (
    InvalidRequestBody,
    check_chat_completion,
    check_messages,
    model_named_in,
)

GOLDEN = Path(__file__).parent.parent / "golden"
USER = {"role": "user", "content": "hi"}
DEEP_MESSAGES = b'{"messages": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


def _body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _chat(**fields: Any) -> bytes:
    return _body(**{"model": "m", "messages": [USER], **fields})


def _anthropic(**fields: Any) -> bytes:
    return _body(**{"model": "m", "max_tokens": 16, "messages": [USER], **fields})


OPENAI_REFUSED: list[tuple[str, bytes, str, str]] = [
    # (case, body, param, code)
    ("empty messages", _chat(messages=[]), "messages", "empty_array"),
    ("no messages", _body(model="m"), "messages", "missing_required_parameter"),
    ("unknown role", _chat(messages=[{"role": "wizard"}]), "messages[0].role", "invalid_value"),
    (
        "no role",
        _chat(messages=[USER, {"content": "x"}]),
        "messages[1].role",
        "missing_required_parameter",
    ),
    (
        "content a number",
        _chat(messages=[{"role": "user", "content": 5}]),
        "messages[0].content",
        "invalid_type",
    ),
    (
        "content an object",
        _chat(messages=[{"role": "user", "content": {"text": "x"}}]),
        "messages[0].content",
        "invalid_type",
    ),
    (
        "a part without type",
        _chat(messages=[{"role": "user", "content": [{"text": "x"}]}]),
        "messages[0].content[0].type",
        "missing_required_parameter",
    ),
    ("max_tokens -1", _chat(max_tokens=-1), "max_tokens", "invalid_value"),
    ("max_tokens 0", _chat(max_tokens=0), "max_tokens", "invalid_value"),
    ("max_tokens a fraction", _chat(max_tokens=1.5), "max_tokens", "invalid_type"),
    (
        "max_completion_tokens 0",
        _chat(max_completion_tokens=0),
        "max_completion_tokens",
        "invalid_value",
    ),
    ("temperature -1", _chat(temperature=-1), "temperature", "invalid_value"),
    ("temperature 1e308", _chat(temperature=1e308), "temperature", "invalid_value"),
    ("temperature 2.5", _chat(temperature=2.5), "temperature", "invalid_value"),
    ("temperature a string", _chat(temperature="hot"), "temperature", "invalid_type"),
    ("top_p 1.5", _chat(top_p=1.5), "top_p", "invalid_value"),
    ("top_p -0.1", _chat(top_p=-0.1), "top_p", "invalid_value"),
    ("n 0", _chat(n=0), "n", "invalid_value"),
    ("n 129", _chat(n=129), "n", "invalid_value"),
    ("presence_penalty 3", _chat(presence_penalty=3), "presence_penalty", "invalid_value"),
    ("frequency_penalty -3", _chat(frequency_penalty=-3), "frequency_penalty", "invalid_value"),
    ("top_logprobs 21", _chat(top_logprobs=21), "top_logprobs", "invalid_value"),
    ("logit_bias 101", _chat(logit_bias={"50256": 101}), "logit_bias", "invalid_value"),
    ("stream a string", _chat(stream="yes"), "stream", "invalid_type"),
    ("stop a number", _chat(stop=4), "stop", "invalid_type"),
    ("model a number", _chat(model=4), "model", "invalid_type"),
    ("messages nested 10,000 deep", DEEP_MESSAGES, "messages[0]", "invalid_type"),
]

ANTHROPIC_REFUSED: list[tuple[str, bytes, str]] = [
    # (case, body, the field the message starts with)
    ("empty messages", _anthropic(messages=[]), "messages"),
    ("unknown role", _anthropic(messages=[{"role": "wizard", "content": "x"}]), "messages.0.role"),
    (
        "system as a role",
        _anthropic(messages=[{"role": "system", "content": "x"}]),
        "messages.0.role",
    ),
    ("no content", _anthropic(messages=[USER, {"role": "assistant"}]), "messages.1.content"),
    (
        "content a number",
        _anthropic(messages=[{"role": "user", "content": 5}]),
        "messages.0.content",
    ),
    ("no max_tokens", _body(model="m", messages=[USER]), "max_tokens"),
    ("max_tokens -1", _anthropic(max_tokens=-1), "max_tokens"),
    ("max_tokens 0", _anthropic(max_tokens=0), "max_tokens"),
    ("temperature -1", _anthropic(temperature=-1), "temperature"),
    ("temperature 1e308", _anthropic(temperature=1e308), "temperature"),
    (
        "temperature 1.5 (OpenAI's range, not Anthropic's)",
        _anthropic(temperature=1.5),
        "temperature",
    ),
    ("top_p 2", _anthropic(top_p=2), "top_p"),
    ("top_k -1", _anthropic(top_k=-1), "top_k"),
    ("system a number", _anthropic(system=3), "system"),
    ("stop_sequences a string", _anthropic(stop_sequences="END"), "stop_sequences"),
]

NOT_JSON_OBJECTS: dict[str, bytes] = {
    "truncated": b'{"messages": [',
    "empty": b"",
    "invalid UTF-8": b'{"model": "m", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
    "invalid UTF-8 in a field nobody reads": b'{"messages": [], "user": "\xc3"}',
    "UTF-8-encoded surrogate": b'{"messages": [{"role": "user", "content": "\xed\xa0\x80"}]}',
    "lone surrogate escape": b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
    "deep nesting in a field nobody reads": b'{"x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
}


@pytest.mark.parametrize(("case", "body", "param", "code"), OPENAI_REFUSED)
def test_openai_bodies_out_of_range_name_the_param(
    case: str, body: bytes, param: str, code: str
) -> None:
    with pytest.raises(InvalidRequestBody) as refused:
        check_chat_completion(body)
    error = refused.value.openai_error()["error"]
    assert (error["param"], error["code"]) == (param, code), case
    assert error["type"] == "invalid_request_error"
    assert f"'{param}'" in error["message"], error


@pytest.mark.parametrize(("case", "body", "field"), ANTHROPIC_REFUSED)
def test_anthropic_bodies_out_of_range_name_the_field(case: str, body: bytes, field: str) -> None:
    with pytest.raises(InvalidRequestBody) as refused:
        check_messages(body)
    error = refused.value.anthropic_error()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(f"{field}: "), (case, error)


def test_an_unknown_role_is_told_the_supported_ones() -> None:
    with pytest.raises(InvalidRequestBody) as refused:
        check_messages(_anthropic(messages=[{"role": "wizard", "content": "x"}]))
    assert "'user', 'assistant'" in refused.value.anthropic_error()["error"]["message"]


@pytest.mark.parametrize("check", [check_chat_completion, check_messages])
@pytest.mark.parametrize("case", list(NOT_JSON_OBJECTS))
def test_what_is_not_a_json_object_is_refused_as_a_whole(
    check: Callable[[bytes], str], case: str
) -> None:
    with pytest.raises(InvalidRequestBody) as refused:
        check(NOT_JSON_OBJECTS[case])
    assert refused.value.param is None
    assert refused.value.openai_error()["error"]["param"] is None
    assert refused.value.anthropic_error()["error"]["message"]


@pytest.mark.parametrize("body", [b"[1, 2]", b'"hi"', b"null"])
def test_json_that_is_not_an_object_is_refused(body: bytes) -> None:
    for check in (check_chat_completion, check_messages):
        with pytest.raises(InvalidRequestBody) as refused:
            check(body)
        assert "object" in refused.value.reason


def test_what_providers_accept_passes_and_gives_the_model() -> None:
    openai_request = (GOLDEN / "openai_request.input.json").read_bytes()
    anthropic_request = (GOLDEN / "anthropic_request.input.json").read_bytes()
    assert check_chat_completion(openai_request) == "claude-sonnet-4-5"
    assert check_messages(anthropic_request) == "gpt-4o"
    # The bounds themselves, nulls, unknown fields, and no model (the path names the router).
    edges = _body(
        messages=[{"role": "assistant", "content": None}, {"role": "function", "content": "x"}],
        temperature=2,
        top_p=0,
        n=128,
        presence_penalty=-2,
        logit_bias={"1": -100},
        top_logprobs=0,
        max_tokens=None,
        future_field={"anything": [1, 2]},
    )
    assert check_chat_completion(edges) == ""
    assert check_messages(_anthropic(temperature=1, top_p=1, top_k=0, system="s")) == "m"


def test_the_model_of_a_refused_body_can_still_be_read() -> None:
    assert model_named_in(_chat(temperature=-1)) == "m"
    assert model_named_in(b"not json") == ""
    assert model_named_in(b'{"model": 4}') == model_named_in(b"[]") == ""
    assert model_named_in(NOT_JSON_OBJECTS["deep nesting in a field nobody reads"]) == ""
