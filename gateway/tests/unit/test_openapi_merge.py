"""Merging OpenAPI documents: owned paths only, clashing components renamed with every
reference following, identical ones shared."""

from __future__ import annotations

from typing import Any

from hyperstrate_gateway.api.inference_openapi import inference_openapi
from hyperstrate_gateway.api.openapi_merge import DocumentPart, merge_openapi

INFO = {"title": "merged", "version": "1"}
ENVELOPE = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "fields": {"type": "object"}},
}


def ref(name: str, section: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{section}/{name}"}


def operation(operation_id: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": ref(answer)}}},
            "400": {
                "description": "bad",
                "content": {"application/json": {"schema": ref("ErrorBody")}},
            },
        },
        **extra,
    }


def service_document(
    path: str, item_schema: dict[str, Any], scheme: dict[str, Any]
) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": path, "version": "1"},
        "security": [{"Session": []}],
        "tags": [{"name": path.strip("/"), "description": path}],
        "paths": {
            path: {"get": operation("ListItems", "Page")},
            f"{path}/{{id}}": {"get": operation("GetItem", "Item", security=[])},
            "/healthz": {"get": operation("Health", "Item")},
        },
        "components": {
            "schemas": {
                "Item": item_schema,
                "Page": {"type": "object", "properties": {"items": {"items": ref("Item")}}},
                "ErrorBody": ENVELOPE,
            },
            "securitySchemes": {"Session": scheme},
        },
    }


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in all_refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in all_refs(value)]
    return []


def resolves(document: dict[str, Any], reference: str) -> bool:
    _, _, section, name = reference.split("/", 3)
    return name in document["components"].get(section, {})


def test_clashing_components_are_renamed_and_their_references_follow() -> None:
    bearer = {"type": "http", "scheme": "bearer"}
    teams = service_document("/teams", {"type": "object", "title": "Team"}, bearer)
    notes = service_document(
        "/notes",
        {"type": "object", "title": "Note"},
        {"type": "apiKey", "in": "header", "name": "k"},
    )
    merged = merge_openapi(
        INFO,
        [DocumentPart("teams", teams, "/teams"), DocumentPart("notes", notes, "/notes")],
        {"x-note": "kept"},
    )

    # Only the paths under each part's prefix: neither /healthz is taken.
    assert list(merged["paths"]) == ["/teams", "/teams/{id}", "/notes", "/notes/{id}"]
    schemas = merged["components"]["schemas"]
    assert schemas["Item"]["title"] == "Team" and schemas["NotesItem"]["title"] == "Note"
    # Page differs only through the Item it points at, so it is renamed too.
    assert schemas["NotesPage"]["properties"]["items"]["items"] == ref("NotesItem")
    assert set(schemas) == {"Item", "Page", "NotesItem", "NotesPage", "ErrorBody"}  # one envelope
    notes_list = merged["paths"]["/notes"]["get"]
    assert notes_list["responses"]["200"]["content"]["application/json"]["schema"] == ref(
        "NotesPage"
    )
    assert notes_list["responses"]["400"]["content"]["application/json"]["schema"] == ref(
        "ErrorBody"
    )
    # Document-wide security moves onto the operations, following the scheme's new name.
    assert set(merged["components"]["securitySchemes"]) == {"Session", "NotesSession"}
    assert notes_list["security"] == [{"NotesSession": []}]
    assert merged["paths"]["/teams"]["get"]["security"] == [{"Session": []}]
    assert merged["paths"]["/notes/{id}"]["get"]["security"] == []  # its own choice stays
    # Operation ids stay unique.
    assert notes_list["operationId"] == "NotesListItems"
    assert merged["paths"]["/teams"]["get"]["operationId"] == "ListItems"
    assert [tag["name"] for tag in merged["tags"]] == ["teams", "notes"]
    assert merged["x-note"] == "kept" and merged["openapi"] == "3.1.0"
    assert all(resolves(merged, reference) for reference in all_refs(merged))
    # The inputs are left as they were.
    assert notes["paths"]["/notes"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == ref("Page")


def test_inference_document_is_self_contained_with_unique_operation_ids() -> None:
    document = inference_openapi()
    merged = merge_openapi(INFO, [DocumentPart("gateway", document)])
    assert merged["paths"] == document["paths"]
    assert all(resolves(merged, reference) for reference in all_refs(merged))
    operations = [op for item in merged["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)) == 10
    for op in operations:
        assert op["security"] == [{"BearerAuth": []}, {"ApiKeyHeader": []}]
        assert {"401"} <= set(op["responses"])
    chat = merged["paths"]["/v1/chat/completions"]["post"]
    assert {"401", "403", "404", "429"} <= set(chat["responses"])
    assert chat["responses"]["429"]["headers"]["Retry-After"]
    assert chat["responses"]["404"]["content"]["application/json"]["schema"] == ref("OpenAIError")
    messages = merged["paths"]["/v1/messages"]["post"]
    assert messages["responses"]["403"]["content"]["application/json"]["schema"] == ref(
        "AnthropicError"
    )
