"""The structured-output stage: an answer must match the JSON schema the request asked for
(`response_format.json_schema`); a mismatch gets one repair attempt, then a clear error."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

__all__ = ["repair_messages", "requested_schema", "schema_violation"]


def requested_schema(raw_request: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of `response_format`, when the request set one."""
    response_format = raw_request.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else None


def schema_violation(content: str | None, schema: dict[str, Any]) -> str | None:
    """Why `content` does not match `schema` (None when it does)."""
    try:
        value = json.loads(content or "")
    except json.JSONDecodeError as exc:
        return f"the answer is not JSON ({exc.msg})"
    try:
        error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    except SchemaError as exc:
        return f"the requested schema is invalid: {exc.message}"
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the root"
    return f"at {where}: {error.message}"


def repair_messages(messages: list[Any], answer: str | None, violation: str) -> list[Any]:
    """The conversation again, with the bad answer and what was wrong with it."""
    return [
        *messages,
        {"role": "assistant", "content": answer or ""},
        {
            "role": "user",
            "content": f"That answer does not match the required JSON schema ({violation}). "
            "Reply again with only JSON that matches the schema.",
        },
    ]
