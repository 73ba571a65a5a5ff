"""Router domain: identifiers, the rules of routers and targets, and errors. Pure Python."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from hyperstrate_kit.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = [
    "MAX_PERCENTAGE_TOTAL",
    "DuplicateRouterName",
    "DuplicateTarget",
    "RouterNotFound",
    "new_id",
    "percentage_total_problem",
    "stream_id",
]

MAX_PERCENTAGE_TOTAL = 100.0
_TOLERANCE = 1e-9  # 33.33 + 33.33 + 33.34 must not fail on float rounding


class RouterNotFound(NotFoundError):
    """No such router in the caller's organisation."""

    default_message = "router not found"


class DuplicateRouterName(ConflictError):
    """Router names are unique in an organisation: `model` may name a router."""

    default_message = "a router with this name already exists"

    def __init__(self) -> None:
        super().__init__(fields={"name": ["already used by another router"]})


class DuplicateTarget(ConflictError):
    """A registration is a target of a router at most once."""

    default_message = "this registration is already a target of the router"

    def __init__(self) -> None:
        super().__init__(fields={"registrationId": ["already a target of this router"]})


def new_id(kind: str) -> str:
    """A new identifier, readable by kind: `rtr_…`, `tgt_…`, `feat_…`, `icp_…`."""
    return f"{kind}_{uuid.uuid4().hex}"


def stream_id(router_id: str) -> str:
    """The event stream of one router: the router and all it owns."""
    return f"router-{router_id}"


def percentage_total_problem(strategy: str, enabled_percentages: Iterable[float]) -> str | None:
    """Why a `percentage` router's enabled targets are invalid (over 100 in total), or None."""
    if strategy != "percentage":
        return None
    total = sum(enabled_percentages)
    if total > MAX_PERCENTAGE_TOTAL + _TOLERANCE:
        return f"enabled targets' percentages add up to {total:g}, more than 100"
    return None


def require_percentage_total(
    strategy: str, enabled_percentages: Iterable[float], field: str = "percentage"
) -> None:
    """Raise a 400 naming `field` when `percentage_total_problem` finds one."""
    problem = percentage_total_problem(strategy, enabled_percentages)
    if problem is not None:
        raise InvalidInputError(problem, {field: [problem]})


__all__ += ["require_percentage_total"]
