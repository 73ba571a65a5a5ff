"""The HTTP conventions every service gets from the app factory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
import pytest
from litestar import Litestar, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody, QueryParameter
from litestar.testing import TestClient

from hyperstrate_kit.errors import NotFoundError, RateLimitedError, UnauthorizedError
from hyperstrate_kit.http import (
    SECURITY_HEADERS,
    Page,
    PageParams,
    ResourceId,
    add_security_headers,
    create_http_app,
)


class WidgetCreate(msgspec.Struct, rename="camel"):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    max_cost_usd: Annotated[float, msgspec.Meta(ge=0)] = 0.0


@post("/widgets", sync_to_thread=False)
def create_widget(data: JSONBody[WidgetCreate]) -> WidgetCreate:
    return data


@get("/widgets/{widget_id:str}", sync_to_thread=False)
def get_widget(widget_id: ResourceId) -> dict[str, str]:
    if widget_id == "missing":
        raise NotFoundError("widget not found")
    return {"id": widget_id}


@get("/widgets", sync_to_thread=False)
def list_widgets(
    page_params: NamedDependency[PageParams],
    owner_id: Annotated[str | None, QueryParameter(name="ownerId", max_length=10)] = None,
) -> Page[int]:
    items = list(range(1000))[page_params.offset : page_params.offset + page_params.limit]
    return Page.of(items, page_params, 1000)


def bearer_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if "authorization" not in connection.headers:
        raise UnauthorizedError("missing bearer token")


@get("/private/{owner_id:str}", guards=[bearer_only], sync_to_thread=False)
def private(owner_id: ResourceId) -> dict[str, str]:
    return {"owner": owner_id}


@get("/limited", sync_to_thread=False)
def limited() -> None:
    raise RateLimitedError(retry_after=2.4)


@get("/crash", sync_to_thread=False)
def crash() -> None:
    raise RuntimeError("password=hunter2")


@get("/framable", sync_to_thread=False)
def framable() -> Response[str]:
    """A handler that sets its own policy: it is kept, not doubled."""
    return Response(
        "<p>embed me</p>",
        media_type="text/html",
        headers={"Content-Security-Policy": "frame-ancestors https://partner.example"},
    )


ready = {"db": True}


async def db_ready() -> bool:
    return ready["db"]


def _app() -> Litestar:
    return create_http_app(
        title="test",
        route_handlers=[create_widget, get_widget, list_widgets, private, limited, crash, framable],
        frontend_url="http://app.example",
        readiness_checks=[("database", db_ready)],
    )


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    with TestClient(_app()) as test_client:
        yield test_client


def test_bad_body_is_400_naming_the_field(client: TestClient[Litestar]) -> None:
    response = client.post("/widgets", json={"name": "", "maxCostUsd": -1})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "fields"}
    assert "name" in body["fields"] or "maxCostUsd" in body["fields"]

    missing = client.post("/widgets", json={})
    assert missing.status_code == 400 and "name" in missing.json()["fields"]

    wrong_type = client.post("/widgets", json={"name": "ok", "maxCostUsd": "lots"})
    assert wrong_type.json()["fields"] == {"maxCostUsd": ["Expected `float`, got `str`"]}


def test_path_parameter_longer_than_100_is_400(client: TestClient[Litestar]) -> None:
    assert client.get("/widgets/" + "x" * 100).status_code == 200
    response = client.get("/widgets/" + "x" * 101)
    assert response.status_code == 400 and "widgetId" in response.json()["fields"]


def test_domain_errors_use_the_envelope(client: TestClient[Litestar]) -> None:
    missing = client.get("/widgets/missing")
    assert missing.status_code == 404
    assert missing.json() == {"error": "widget not found", "fields": {}}
    limited_response = client.get("/limited")
    assert limited_response.status_code == 429 and limited_response.headers["retry-after"] == "2"


def test_unexpected_error_is_a_500_without_details(client: TestClient[Litestar]) -> None:
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.json() == {"error": "internal server error", "fields": {}}
    assert "hunter2" not in response.text


@pytest.mark.parametrize(
    ("query", "field"),
    [("page=0", "page"), ("perPage=501", "perPage"), ("perPage=0", "perPage"), ("page=x", "page")],
)
def test_bad_pagination_is_400(client: TestClient[Litestar], query: str, field: str) -> None:
    response = client.get(f"/widgets?{query}")
    assert response.status_code == 400 and field in response.json()["fields"]


def test_pagination_defaults_and_shape(client: TestClient[Litestar]) -> None:
    first = client.get("/widgets").json()
    assert (first["page"], first["perPage"], first["total"], len(first["items"])) == (
        1,
        30,
        1000,
        30,
    )
    last = client.get("/widgets?page=2&perPage=500").json()
    assert last["items"][0] == 500 and len(last["items"]) == 500


def test_request_id_is_echoed_or_generated(client: TestClient[Litestar]) -> None:
    echoed = client.get("/widgets/a", headers={"X-Request-ID": "req-123"})
    assert echoed.headers["x-request-id"] == "req-123"
    generated = client.get("/widgets/a")
    assert len(generated.headers["x-request-id"]) == 32
    hostile = client.get("/widgets/a", headers={"X-Request-ID": "bad id; drop"})
    assert hostile.headers["x-request-id"] != "bad id; drop"


def test_health_ready_metrics_and_swagger(client: TestClient[Litestar]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    ready["db"] = False
    try:
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"] == {"database": False}
    finally:
        ready["db"] = True
    client.get("/widgets/a")
    metrics = client.get("/metrics").text
    assert (
        'hyperstrate_http_request_duration_seconds_count{method="GET",route="/widgets/{widget_id}",status="200"}'
        in metrics
    )
    spec = client.get("/swagger/openapi.json").json()
    assert "/widgets/{widgetId}" in spec["paths"]  # path parameters by their wire names
    assert client.get("/swagger").status_code == 200


def test_cors_allows_the_frontend(client: TestClient[Litestar]) -> None:
    response = client.options(
        "/widgets",
        headers={"Origin": "http://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.headers["access-control-allow-origin"] == "http://app.example"
    other = client.options(
        "/widgets",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert other.headers.get("access-control-allow-origin") != "http://evil.example"


def test_request_logs_by_status_and_health_checks_are_silent(
    client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="hyperstrate.http")
    client.get("/healthz")
    client.get("/widgets/a")
    client.get("/widgets/missing")
    client.get("/crash")
    levels = {r.getMessage(): r.levelname for r in caplog.records if r.name == "hyperstrate.http"}
    assert levels["GET /widgets/a 200"] == "INFO"
    assert levels["GET /widgets/missing 404"] == "WARNING"
    assert levels["GET /crash 500"] == "ERROR"
    assert not any("healthz" in message for message in levels)


@pytest.mark.parametrize("widget_id", ["a%01b", "..", "a%2Fb", "%C3%A9t%C3%A9", "-x", "a b"])
def test_a_path_id_with_other_characters_is_400_naming_it(
    client: TestClient[Litestar], widget_id: str
) -> None:
    response = client.get(f"/widgets/{widget_id}")
    assert response.status_code in (400, 404)  # `..` and `/` may not even route to it
    if response.status_code == 400:
        assert response.json()["fields"].keys() == {"widgetId"}


def test_ids_as_the_services_make_them_pass(client: TestClient[Litestar]) -> None:
    for widget_id in ("rtr_0f3a9c", "6f1c3f52-53d2-4b8f-9a43-1d0ad3c0b7c1", "response_cache"):
        assert client.get(f"/widgets/{widget_id}").json() == {"id": widget_id}


def test_parameter_errors_use_the_wire_names(client: TestClient[Litestar]) -> None:
    query = client.get("/widgets", params={"ownerId": "x" * 11})
    assert query.status_code == 400 and set(query.json()["fields"]) == {"ownerId"}
    path = client.get("/private/%01", headers={"authorization": "Bearer t"})
    assert path.status_code == 400 and set(path.json()["fields"]) == {"ownerId"}


def test_the_document_declares_bearer_auth_and_the_error_envelope(
    client: TestClient[Litestar],
) -> None:
    spec = client.get("/swagger/openapi.json").json()
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    guarded = spec["paths"]["/private/{ownerId}"]["get"]
    assert guarded["security"] == [{"BearerAuth": []}]
    assert {"400", "401", "403", "404"} <= set(guarded["responses"])
    assert "security" not in spec["paths"]["/widgets"]["get"]  # public: no lock in Swagger UI
    envelope = {"$ref": "#/components/schemas/ErrorBody"}
    assert guarded["responses"]["401"]["content"]["application/json"]["schema"] == envelope
    assert (
        spec["paths"]["/widgets"]["post"]["responses"]["400"]["content"]["application/json"][
            "schema"
        ]
        == envelope
    )
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == {"error", "fields"}
    assert spec["paths"]["/private/{ownerId}"]["get"]["parameters"][0]["name"] == "ownerId"


def _security_headers_once(response: Any) -> None:
    for name, value in SECURITY_HEADERS:
        assert response.headers.get_list(name.decode()) == [value.decode()], (name, response)


def test_every_response_carries_the_security_headers_once(client: TestClient[Litestar]) -> None:
    answers = [
        client.get("/widgets/a"),
        client.post("/widgets", json={}),  # 400
        client.get("/widgets/missing"),  # a domain 404
        client.get("/no/such/route"),  # the router's 404, before any middleware
        client.put("/healthz"),  # the router's 405
        client.get("/crash"),  # 500
        client.get("/swagger"),  # Swagger UI: an HTML page that must not be framed
        client.get("/swagger/openapi.json"),
        client.get("/metrics"),
        client.options(
            "/widgets",
            headers={"Origin": "http://app.example", "Access-Control-Request-Method": "POST"},
        ),
    ]
    for answer in answers:
        _security_headers_once(answer)
    assert "text/html" in answers[6].headers["content-type"]


def test_a_policy_a_handler_sets_is_kept() -> None:
    with TestClient(_app()) as client:
        answer = client.get("/framable")
    assert answer.headers.get_list("content-security-policy") == [
        "frame-ancestors https://partner.example"
    ]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_adding_the_security_headers_keeps_what_is_there() -> None:
    passed_through = [(b"content-type", b"text/html"), (b"x-frame-options", b"SAMEORIGIN")]
    headers = add_security_headers(passed_through)
    assert headers[:2] == passed_through
    assert [name for name, _ in headers].count(b"x-frame-options") == 1
    assert (b"x-content-type-options", b"nosniff") in headers


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b"[" * 10_000 + b"]" * 10_000,
        b'{"name": "\xff\xfe"}',
        b'{"name": "\\ud800"}',
        b'{"name": "a\\udc00b"}',
    ],
    ids=["nested in a field", "nested", "invalid UTF-8", "lone surrogate", "lone low surrogate"],
)
def test_a_body_no_decoder_takes_is_a_400_in_the_envelope(
    client: TestClient[Litestar], body: bytes
) -> None:
    response = client.post("/widgets", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error", "fields"}
    assert response.json()["error"].startswith("invalid input: "), response.json()


def test_a_body_that_is_not_json_says_so(client: TestClient[Litestar]) -> None:
    response = client.post(
        "/widgets", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("invalid input: the body is not valid JSON")
    assert list(response.json()["fields"]) == ["body"]
