"""The Litestar app factory every service uses, and its HTTP conventions.

`/healthz`, `/readyz`, `/metrics`, OpenAPI and Swagger UI at `/swagger`, CORS from
`FRONTEND_URL`, `X-Request-ID` in and out, the security headers on every response, request
logs by status, the error envelope for every 4xx/5xx, pagination (`page`, `perPage`), and the
path-parameter check.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import Token
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components
from litestar.params import Parameter, ParameterKwarg
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError

from hyperstrate_kit.actors import close_request_scope, open_request_scope
from hyperstrate_kit.database import database_unavailable
from hyperstrate_kit.errors import AppError, DatabaseUnavailableError, ErrorBody, RateLimitedError
from hyperstrate_kit.eventstore import ConcurrencyError
from hyperstrate_kit.logs import request_id_var
from hyperstrate_kit.metrics import HTTP_REQUESTS
from hyperstrate_kit.openapi import camel_case, document_conventions, security_schemes
from hyperstrate_kit.sessions import principal_of
from hyperstrate_kit.telemetry import extract_context

__all__ = [
    "MAX_PER_PAGE",
    "RESOURCE_ID_PATTERN",
    "SECURITY_HEADERS",
    "Page",
    "PageParams",
    "ReadinessCheck",
    "ResourceId",
    "add_security_headers",
    "create_http_app",
    "error_response",
]

log = logging.getLogger("hyperstrate.http")

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 30
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

#: What a resource id may hold: a letter or digit, then letters, digits and `_ . -`, at most
#: 100 in all. Ids look like `rtr_<hex>`, uuids or feature types (`response_cache`).
RESOURCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
#: A path parameter naming a resource: anything but an id's characters is a 400 naming the
#: parameter, in every service alike (never a database error or a 500).
ResourceId = Annotated[str, Parameter(min_length=1, max_length=100, pattern=RESOURCE_ID_PATTERN)]

#: On every response of every service (and the gateway's own fronts): no MIME sniffing of an
#: answer into something executable, and no page of ours inside another site's frame (the
#: Swagger UI, any HTML; on JSON they cost nothing and cover what a browser might render).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
_SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)

#: A named readiness check: returns True when its part is ready.
ReadinessCheck = tuple[str, Callable[[], Awaitable[bool]]]

T = TypeVar("T")


class PageParams(msgspec.Struct, frozen=True):
    """Validated pagination parameters."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.per_page

    @property
    def limit(self) -> int:
        """Rows to take."""
        return self.per_page


class Page(msgspec.Struct, Generic[T], rename="camel"):
    """A page of a list: `{"items", "page", "perPage", "total"}`."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @classmethod
    def of(cls, items: list[T], params: PageParams, total: int) -> Page[T]:
        """Wrap one page of results."""
        return cls(items=items, page=params.page, per_page=params.per_page, total=total)


def provide_page_params(
    page: Annotated[int, Parameter(ge=1, default=1)],
    perPage: Annotated[int, Parameter(ge=1, le=MAX_PER_PAGE, default=DEFAULT_PER_PAGE)],
) -> PageParams:
    """`page` (default 1) and `perPage` (default 30, max 500) from the query string."""
    return PageParams(page=page, per_page=perPage)


def error_response(
    status: int,
    message: str,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    """A response carrying the standard error envelope."""
    return Response(
        ErrorBody(error=message, fields=fields or {}),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _validation_fields(
    exc: ValidationException, handler: BaseRouteHandler | None = None
) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "body")
        message = str(item.get("message") or "invalid value")
        if key in ("body", "data"):  # a body error: name the field msgspec points at
            key, message = _msgspec_field(message)
        elif (source := getattr(item.get("source"), "value", None)) in ("path", "query"):
            key = _wire_name(handler, key, source)
        fields.setdefault(key, []).append(message)
    return fields


def _wire_name(handler: BaseRouteHandler | None, key: str, source: str) -> str:
    """The name the client sent a parameter under: its declared alias (`routerId` for
    `router_id: QueryParameter(name="routerId")`), for a path parameter its camelCase
    name (as the OpenAPI document gives it), else the key itself."""
    parameter = handler.parsed_fn_signature.parameters.get(key) if handler else None
    kwarg = parameter.kwarg_definition if parameter is not None else None
    alias = kwarg.name if isinstance(kwarg, ParameterKwarg) else None
    if alias:
        return alias
    return camel_case(key) if source == "path" else key


_NAMED_FIELD = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


def _msgspec_field(message: str) -> tuple[str, str]:
    """Split msgspec's "Expected `int`, got `str` - at `$.a.b`" into ("a.b", message)."""
    message, _, at = message.partition(" - at `$")
    path = at.rstrip("`").lstrip(".")
    named = _NAMED_FIELD.search(message)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path or "body", message


def _on_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[ErrorBody]:
    fields = _validation_fields(exc, request.scope.get("route_handler"))
    names = ", ".join(fields) or "request"
    return error_response(400, f"invalid input: {names}", fields)


def _on_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    if isinstance(exc.__cause__, SerializationException):
        # The body did not decode; msgspec's own words ("Input data was truncated", also
        # for a lone surrogate escape) do not say it is about the body.
        reason = str(exc.detail)
        return error_response(
            400, f"invalid input: the body is not valid JSON ({reason})", {"body": [reason]}
        )
    message = exc.detail if exc.status_code < 500 else "internal server error"
    return error_response(exc.status_code, str(message), headers=exc.headers)


def _on_app_error(_: Request[Any, Any, Any], exc: AppError) -> Response[ErrorBody]:
    headers = None
    if isinstance(exc, (RateLimitedError, DatabaseUnavailableError)):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    return error_response(exc.status_code, exc.message, exc.fields, headers)


def _on_concurrency(_: Request[Any, Any, Any], exc: ConcurrencyError) -> Response[ErrorBody]:
    return error_response(409, "the resource changed meanwhile; reload and retry")


def _on_database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[ErrorBody]:
    # SQLSTATE class 22 (data exception): the input cannot be stored as given, e.g. a NUL
    # character in text. The caller's fault, so a 400 -- anything else is ours.
    if str(getattr(exc.orig, "sqlstate", "") or "").startswith("22"):
        return error_response(
            400, "invalid input: a value cannot be stored (unsupported characters?)"
        )
    return _on_unexpected(request, exc)


def _on_undecodable(_: Request[Any, Any, Any], exc: UnicodeError) -> Response[ErrorBody]:
    return error_response(400, "invalid input: the request is not valid UTF-8")


def _on_too_deep(_: Request[Any, Any, Any], exc: RecursionError) -> Response[ErrorBody]:
    # msgspec refuses JSON nested past its depth limit with a RecursionError (10,000 levels
    # of `[`): the caller's input, decoded before any of our code runs.
    return error_response(400, "invalid input: the JSON is nested too deeply")


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    if database_unavailable(exc):  # an outage, not a bug: say so, no stack trace
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    type(exc).__name__)  # fmt: skip
        return _on_app_error(request, DatabaseUnavailableError())
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error")


class RequestContextMiddleware:
    """X-Request-ID in and out, request logs by status, request-duration metrics.

    Plain ASGI (not Litestar middleware) to keep per-request overhead small.
    """

    def __init__(self, app: ASGIApp, *, success_level: int = logging.INFO) -> None:
        self.app = app
        self.success_level = success_level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send)

    async def _http(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _refuse_nul(send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        actor_scope = open_request_scope()  # the guard names the caller in it
        trace_token = _attach_incoming_trace(scope)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = add_security_headers(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope["path"]
            if path not in QUIET_PATHS:
                route = scope.get("path_template") or "unmatched"
                HTTP_REQUESTS.labels(scope["method"], route, str(status)).observe(elapsed)
                level = (
                    logging.ERROR
                    if status >= 500
                    else logging.WARNING
                    if status >= 400
                    else self.success_level
                )
                if log.isEnabledFor(level):
                    fields = {"status": status, "duration_ms": round(elapsed * 1000, 2)}
                    log.log(
                        level, "%s %s %d", scope["method"], path, status, extra={"fields": fields}
                    )
            close_request_scope(actor_scope)
            request_id_var.reset(token)
            if trace_token is not None:
                otel_context.detach(trace_token)


def add_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` (ASGI, lower-case names) with each of `SECURITY_HEADERS` it lacks: a
    response passed through from another service keeps its own and gets none twice."""
    present = list(headers)
    names = {name for name, _ in present}
    if names.isdisjoint(_SECURITY_HEADER_NAMES):  # the usual case: our own answer
        present += SECURITY_HEADERS
    else:
        present.extend(header for header in SECURITY_HEADERS if header[0] not in names)
    return present


def _security_headers_hook(message: Message, _: Scope) -> None:
    """What the request middleware never sees (a 404 or 405 of the router) gets them too."""
    if message["type"] == "http.response.start":
        message["headers"] = add_security_headers(message.get("headers", ()))


def _attach_incoming_trace(scope: HTTPScope) -> Token[Context] | None:
    """Join the caller's trace when it sent a `traceparent`, so NATS hops carry it on."""
    for name, value in scope.get("headers", ()):
        if name == b"traceparent":
            carrier = {"traceparent": value.decode("latin-1")}
            return otel_context.attach(extract_context(carrier))
    return None


async def _refuse_nul(send: Send) -> None:
    body = msgspec.json.encode(ErrorBody(error="invalid input: NUL character in the URL"))
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _incoming_request_id(scope: HTTPScope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None


def _ops_handlers(checks: Sequence[ReadinessCheck]) -> list[Any]:
    @get("/healthz", include_in_schema=False, sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", include_in_schema=False)
    async def readyz() -> Response[dict[str, Any]]:
        results = {}
        for name, check in checks:
            try:
                results[name] = bool(await check())
            except Exception:
                results[name] = False
        ready = all(results.values())
        return Response(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def metrics() -> Response[bytes]:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [healthz, readyz, metrics]


def create_http_app(
    *,
    title: str,
    route_handlers: Iterable[Any],
    frontend_url: str,
    readiness_checks: Sequence[ReadinessCheck] = (),
    exception_handlers: dict[type[Exception], Any] | None = None,
    dependencies: dict[str, Provide] | None = None,
    lifespan: Sequence[Any] = (),
    jwt_secret: str = "",
    debug: bool = False,
) -> Litestar:
    """A Litestar app with the house conventions; services add their controllers.

    `jwt_secret` verifies session tokens in `hyperstrate_kit.sessions` guards.
    """
    handlers: dict[Any, Any] = {
        ValidationException: _on_validation,
        HTTPException: _on_http,
        AppError: _on_app_error,
        ConcurrencyError: _on_concurrency,
        DBAPIError: _on_database_error,
        UnicodeError: _on_undecodable,
        RecursionError: _on_too_deep,
        Exception: _on_unexpected,
    }
    handlers.update(exception_handlers or {})
    app = Litestar(
        state=State({"jwt_secret": jwt_secret}),
        route_handlers=[*_ops_handlers(readiness_checks), *route_handlers],
        exception_handlers=handlers,
        dependencies={
            "page_params": Provide(provide_page_params, sync_to_thread=False),
            "principal": Provide(principal_of, sync_to_thread=False),
            **(dependencies or {}),
        },
        cors_config=CORSConfig(
            allow_origins=[frontend_url],
            allow_credentials=True,
            expose_headers=["X-Request-ID", "Retry-After"],
        ),
        openapi_config=OpenAPIConfig(
            title=title,
            version="0.1.0",
            path="/swagger",
            render_plugins=[SwaggerRenderPlugin(path="/")],
            components=Components(security_schemes=security_schemes()),
        ),
        middleware=[RequestContextMiddleware],
        before_send=[_security_headers_hook],
        lifespan=list(lifespan),
        logging_config=None,  # logs.configure_logging owns logging
        debug=debug,
    )
    document_conventions(app)
    return app
