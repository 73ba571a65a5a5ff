"""Prompt rules without I/O: variables extracted on save, rendering names what is missing."""

from __future__ import annotations

import pytest

from hyperstrate_kit.errors import InvalidInputError
from hyperstrate_prompts.domain import render, variables_of


def test_variables_are_the_unique_placeholders_in_order() -> None:
    text = "Hi {{ name }}, you are {{role}}. Bye {{name}}. {{ user.email }} {{not a var}}"
    assert variables_of(text) == ("name", "role", "user.email")
    assert variables_of("no placeholders") == ()


def test_render_fills_every_placeholder_literally() -> None:
    assert render("{{a}} and {{ b }}", {"a": 1, "b": "{{a}}"}) == "1 and {{a}}"


def test_render_with_missing_variables_is_a_400_naming_them() -> None:
    with pytest.raises(InvalidInputError) as raised:
        render("{{a}} {{b}} {{c}}", {"b": "x"})
    assert raised.value.status_code == 400
    assert "a, c" in raised.value.message
    assert set(raised.value.fields) == {"variables.a", "variables.c"}
