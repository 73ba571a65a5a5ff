"""`{{variable}}` templates: the one helper the prompts service and the router share."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["MissingVariablesError", "extract_variables", "interpolate"]

# Names are identifiers with dots or dashes allowed (`{{ user.name }}`); spaces are trimmed.
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


class MissingVariablesError(KeyError):
    """Interpolation lacked values; `names` lists them in order of appearance."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names

    def __str__(self) -> str:
        return f"missing template variable(s): {', '.join(self.names)}"


def extract_variables(text: str) -> list[str]:
    """The unique placeholder names of `text`, in order of first appearance."""
    return list(dict.fromkeys(match.group(1) for match in _PLACEHOLDER.finditer(text)))


def interpolate(text: str, variables: Mapping[str, object]) -> str:
    """`text` with every `{{name}}` replaced by `str(variables[name])`.

    Raises `MissingVariablesError` naming every placeholder without a value; the values
    themselves are inserted literally (a value containing `{{x}}` is not expanded again).
    """
    missing = [name for name in extract_variables(text) if name not in variables]
    if missing:
        raise MissingVariablesError(missing)
    return _PLACEHOLDER.sub(lambda match: str(variables[match.group(1)]), text)
