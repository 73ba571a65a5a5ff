"""Which request paths the admin pass-through may forward as they were sent.

The pass-through forwards the client's raw path; a path whose decoding could mean something
else to the service behind it (another endpoint reached by `..`, a path cut short by `#` or
`?`, a segment split by an encoded slash, a line break in a log) is refused instead.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["path_problem"]

_ENCODED_SLASH = re.compile(rb"%2f", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CUTTING = frozenset("#?\\")
_DOT_SEGMENTS = frozenset({".", ".."})


def path_problem(raw_path: bytes) -> str | None:
    """Why `raw_path` (as the client sent it, still percent-encoded) must not be forwarded,
    or None when it may be."""
    if _ENCODED_SLASH.search(raw_path):
        return "an encoded slash (%2F) inside a segment is not allowed"
    decoded = unquote(raw_path.decode("latin-1"), errors="replace")
    if _CONTROL.search(decoded):
        return "control characters are not allowed"
    if _CUTTING.intersection(decoded):
        return "'#', '?' and '\\' are not allowed in a path"
    if _DOT_SEGMENTS.intersection(decoded.split("/")):
        return "'.' and '..' segments are not allowed"
    return None
