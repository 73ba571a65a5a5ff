"""Merging OpenAPI documents into one: each service keeps the paths under the prefix it owns,
and components that clash by name are renamed after their service (no I/O here)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DocumentPart", "JsonObject", "merge_openapi", "owned_paths"]

JsonObject = dict[str, Any]
#: component section -> {name in the part's document: name in the merged document}
Renames = dict[str, dict[str, str]]

_COMPONENTS = "#/components/"
_OPERATIONS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@dataclass(frozen=True)
class DocumentPart:
    """One document to merge: `name` prefixes its components when they clash (`auth` ->
    `AuthTeamView`), `prefix` keeps only its own paths (None: all of them)."""

    name: str
    document: JsonObject
    prefix: str | None = None


def owned_paths(document: JsonObject, prefix: str | None) -> JsonObject:
    """The document's paths that are `prefix` itself or below it (all when prefix is None)."""
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return {}
    return {
        path: item
        for path, item in paths.items()
        if isinstance(item, dict)
        and (prefix is None or path == prefix or path.startswith(f"{prefix.rstrip('/')}/"))
    }


def merge_openapi(
    info: JsonObject,
    parts: Sequence[DocumentPart],
    extensions: JsonObject | None = None,
) -> JsonObject:
    """One OpenAPI 3.1 document of `parts`, in order: paths, components, tags and operation ids.

    A component whose name is taken by a different one is renamed after its part and every
    `$ref` (and security requirement) of that part follows; identical ones are shared.
    A part's document-wide `security` moves onto its operations.
    """
    components: dict[str, JsonObject] = {}
    paths: JsonObject = {}
    tags: dict[str, JsonObject] = {}
    operation_ids: set[str] = set()
    for part in parts:
        renames = _place_components(part, components)
        for path, item in owned_paths(part.document, part.prefix).items():
            paths[path] = _path_item(item, part, renames, operation_ids)
        for tag in part.document.get("tags") or []:
            if isinstance(tag, dict) and "name" in tag:
                tags.setdefault(tag["name"], tag)
    document: JsonObject = {
        "openapi": "3.1.0",
        "info": info,
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            section: dict(sorted(items.items())) for section, items in components.items()
        },
        "tags": list(tags.values()),
    }
    document.update(extensions or {})
    return document


def _place_components(part: DocumentPart, merged: dict[str, JsonObject]) -> Renames:
    """Add the part's components to `merged`; what must be renamed, by section."""
    components = part.document.get("components")
    own: dict[str, JsonObject] = {
        section: items
        for section, items in (components.items() if isinstance(components, dict) else ())
        if isinstance(items, dict)
    }
    renames: Renames = {section: {} for section in own}
    # Renaming one component changes those that refer to it, which may then clash in turn:
    # repeat until nothing more needs a new name (names are only ever added, so this ends).
    changed = True
    while changed:
        changed = False
        for section, items in own.items():
            existing = merged.get(section, {})
            for name, item in items.items():
                if name in renames[section] or name not in existing:
                    continue
                if existing[name] != _rewrite(item, renames):
                    taken = set(existing) | set(items) | set(renames[section].values())
                    renames[section][name] = _fresh_name(part.name, name, taken)
                    changed = True
    for section, items in own.items():
        target = merged.setdefault(section, {})
        for name, item in items.items():
            target.setdefault(renames[section].get(name, name), _rewrite(item, renames))
    return renames


def _fresh_name(part_name: str, name: str, taken: set[str]) -> str:
    base = "".join(word.title() for word in part_name.replace("-", "_").split("_")) + name
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}{counter}", counter + 1
    return candidate


def _path_item(
    item: JsonObject, part: DocumentPart, renames: Renames, operation_ids: set[str]
) -> JsonObject:
    rewritten: JsonObject = _rewrite(item, renames)
    default_security = part.document.get("security")
    for method, operation in rewritten.items():
        if method not in _OPERATIONS or not isinstance(operation, dict):
            continue
        if "security" not in operation and default_security is not None:
            operation["security"] = copy.deepcopy(default_security)
        if "security" in operation:
            operation["security"] = _renamed_requirements(operation["security"], renames)
        operation_id = operation.get("operationId")
        if isinstance(operation_id, str):
            if operation_id in operation_ids:
                operation_id = _fresh_name(part.name, operation_id, operation_ids)
                operation["operationId"] = operation_id
            operation_ids.add(operation_id)
    return rewritten


def _renamed_requirements(requirements: Any, renames: Renames) -> Any:
    schemes = renames.get("securitySchemes", {})
    if not schemes or not isinstance(requirements, list):
        return requirements
    return [
        {schemes.get(name, name): scopes for name, scopes in requirement.items()}
        if isinstance(requirement, dict)
        else requirement
        for requirement in requirements
    ]


def _rewrite(node: Any, renames: Renames) -> Any:
    """A deep copy of `node` with its component references renamed."""
    if isinstance(node, dict):
        copied: JsonObject = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                copied[key] = _renamed_ref(value, renames)
            elif key == "discriminator" and isinstance(value, dict):
                mapping = value.get("mapping")
                copied[key] = (
                    {**value, "mapping": {k: _renamed_ref(v, renames) for k, v in mapping.items()}}
                    if isinstance(mapping, dict)
                    else dict(value)
                )
            else:
                copied[key] = _rewrite(value, renames)
        return copied
    if isinstance(node, list):
        return [_rewrite(value, renames) for value in node]
    return node


def _renamed_ref(ref: Any, renames: Renames) -> Any:
    if not isinstance(ref, str) or not ref.startswith(_COMPONENTS):
        return ref
    section, _, name = ref[len(_COMPONENTS) :].partition("/")
    new_name = renames.get(section, {}).get(name)
    return f"{_COMPONENTS}{section}/{new_name}" if new_name else ref
