"""Template variables: extraction and interpolation."""

from __future__ import annotations

import pytest

from hyperstrate_kit.templates import MissingVariablesError, extract_variables, interpolate


def test_extracts_unique_names_in_order() -> None:
    text = "Hi {{name}}, you are {{ role }} at {{org.name}}. Bye {{name}}. {{ not valid }} {x}"
    assert extract_variables(text) == ["name", "role", "org.name"]


def test_interpolates_and_does_not_expand_values_again() -> None:
    assert interpolate("{{a}}+{{ b }}={{a}}", {"a": 1, "b": "{{a}}"}) == "1+{{a}}=1"


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(MissingVariablesError) as error:
        interpolate("{{a}} {{b}} {{c}}", {"b": "x"})
    assert error.value.names == ["a", "c"]
    assert str(error.value) == "missing template variable(s): a, c"
