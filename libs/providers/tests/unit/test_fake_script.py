"""The fake upstream's script grammar."""

from __future__ import annotations

import pytest

from hyperstrate_providers.fake_upstream import FakeScript, ScriptError, parse_script, script_from
from hyperstrate_providers.fake_upstream.answer import compose_answer, default_reply_tokens


def test_every_directive_parses() -> None:
    script = parse_script(
        "latency=200; chunk_latency=5;fail=429;retry_after=3;timeout;break=4;cut=6;"
        "tool=get_weather;args=%7B%22city%22%3A%22Paris%3B%20France%22%7D;json={};echo;tokens=3;finish=length;"
        "usage=off;cached=10;reasoning=7"
    )

    assert script == FakeScript(
        latency_ms=200,
        chunk_latency_ms=5,
        fail_status=429,
        retry_after_s=3,
        hang=True,
        break_after=4,
        cut_after=6,
        tool_name="get_weather",
        tool_arguments='{"city":"Paris; France"}',
        json_content="{}",
        echo=True,
        tokens=3,
        finish_reason="length",
        report_usage=False,
        cached_tokens=10,
        reasoning_tokens=7,
    )


def test_header_wins_over_the_model_name() -> None:
    assert script_from("tokens=2", "fake;tokens=9") == FakeScript(tokens=2)
    assert script_from(None, "fake;tokens=9") == FakeScript(tokens=9)
    assert script_from(None, "fake-gpt") == FakeScript()
    assert script_from("", "fake;fail=500") == FakeScript()


@pytest.mark.parametrize(
    "text", ["fail=abc", "fail=200", "tokens=0", "finish=maybe", "tool=", "warp=9"]
)
def test_malformed_scripts_are_rejected(text: str) -> None:
    with pytest.raises(ScriptError):
        parse_script(text)


def test_default_reply_is_deterministic_and_sized_in_tokens() -> None:
    tokens = default_reply_tokens(20)

    assert len(tokens) == 20
    assert tokens == default_reply_tokens(20)
    assert "".join(tokens).startswith("This is a deterministic reply")


def test_answer_is_cut_to_the_output_limit() -> None:
    answer = compose_answer(
        FakeScript(tokens=10), last_user_text="", prompt_tokens=5, max_output_tokens=4
    )

    assert len(answer.text_pieces) == 4
    assert answer.finish_reason == "length"
    assert answer.completion_tokens == 4


def test_echo_pieces_rebuild_the_user_text_exactly() -> None:
    text = "  Hello,\nworld  and more  "
    answer = compose_answer(
        FakeScript(echo=True), last_user_text=text, prompt_tokens=5, max_output_tokens=None
    )

    assert answer.text == text
