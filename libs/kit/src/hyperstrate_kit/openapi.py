"""What every service's OpenAPI document says beyond what Litestar derives by itself.

- An operation behind a guard declares the `BearerAuth` scheme (every guard of the house
  reads `Authorization: Bearer`), so Swagger UI's "Authorize" sends the token; public
  operations declare none.
- Error answers are declared with the house envelope (`ErrorBody`), not Litestar's own
  `{"status_code", "detail"}`: 400 everywhere, 401/403 behind a guard, 404 where a path
  names a resource or a body may refer to one, 409 where the call changes state.
- Path parameters carry their camelCase wire names (`routerId`), as field errors name them.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, Operation, Parameter, PathItem, Reference, SecurityScheme
from litestar.routes import HTTPRoute

from hyperstrate_kit.errors import ErrorBody

__all__ = [
    "BEARER_AUTH",
    "BEARER_AUTH_SCHEME",
    "BEARER_SECURITY",
    "camel_case",
    "document_conventions",
    "error_responses",
    "security_schemes",
]

BEARER_AUTH = "BearerAuth"
#: The scheme as JSON, shared with the gateway's own document so the merged one has one
#: "BearerAuth" (identical components are shared, different ones renamed).
BEARER_AUTH_SCHEME: dict[str, str] = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "A session token (the `accessToken` of `POST /auth/login`); the inference routes "
        "also take an API key or virtual key (`hs_...`)."
    ),
}
BEARER_SECURITY: list[dict[str, list[str]]] = [{BEARER_AUTH: []}]

_ERRORS = {
    400: "Invalid input; `fields` names each offending field or parameter",
    401: "Missing, invalid or expired session token",
    403: "The session's role may not do this",
    404: "Not found (or another organisation's)",
    409: "The resource's state forbids it, or it changed meanwhile",
    502: "A server this one depends on answered badly or not at all",
    503: "A dependency of the service is unavailable",
}
_CHANGES_STATE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PATH_VARIABLE = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def camel_case(name: str) -> str:
    """`router_id` -> `routerId`: the wire name of a parameter named in Python."""
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def security_schemes() -> dict[str, SecurityScheme | Reference]:
    """The components' `securitySchemes` of every service."""
    return {BEARER_AUTH: SecurityScheme(**BEARER_AUTH_SCHEME)}  # type: ignore[arg-type]


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """Error answers to declare on a handler beyond the conventions (`responses=`), e.g. the
    401 of a public login that refuses a password."""
    return {
        code: ResponseSpec(data_container=ErrorBody, description=_ERRORS[code])
        for code in sorted(codes)
    }


def document_conventions(app: Litestar) -> None:
    """Declare security and error answers on every documented handler of `app`, then build
    its document and give path parameters their wire names (call once, after construction)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                _declare(handler, has_path_parameters=bool(route.path_parameters))
    _rename_path_parameters(app.openapi_schema)


def _declare(handler: HTTPRouteHandler, *, has_path_parameters: bool) -> None:
    guarded = bool(handler.resolve_guards())
    if guarded and not handler.security:
        handler.security = BEARER_SECURITY
    codes = {400}
    if guarded:
        codes |= {401, 403}
    if has_path_parameters or "data" in handler.parsed_fn_signature.parameters:
        codes.add(404)
    if _CHANGES_STATE & set(handler.http_methods):
        codes.add(409)
    handler.responses = {**error_responses(*codes), **(handler.responses or {})}


def _rename_path_parameters(document: OpenAPI) -> None:
    if not document.paths:
        return
    renamed: dict[str, PathItem] = {}
    for path, item in document.paths.items():
        for operation in _operations(item):
            for parameter in operation.parameters or []:
                if isinstance(parameter, Parameter) and parameter.param_in == "path":
                    parameter.name = camel_case(parameter.name)
        renamed[_PATH_VARIABLE.sub(lambda m: "{" + camel_case(m.group(1)) + "}", path)] = item
    document.paths = renamed


def _operations(item: PathItem) -> list[Operation]:
    methods: tuple[Any, ...] = (
        item.get, item.put, item.post, item.delete, item.options, item.head, item.patch,
        item.trace,
    )  # fmt: skip
    return [operation for operation in methods if isinstance(operation, Operation)]
