"""Request bodies, query filters and responses of the observability use cases, camelCase."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Generic, Literal, TypeVar, get_args

import msgspec

from hyperstrate_contracts.observability import WEBHOOK_EVENT_TYPES
from hyperstrate_observability.domain.dates import DateRange
from hyperstrate_observability.domain.usage import Dimension

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
WebhookEventType = Literal["inference.completed", "inference.failed"]
EventTypes = Annotated[list[WebhookEventType], msgspec.Meta(min_length=1, max_length=2)]
DeliveryStatus = Literal["pending", "delivered", "dead"]
T = TypeVar("T")

assert set(get_args(WebhookEventType)) == set(WEBHOOK_EVENT_TYPES)


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Base of request bodies: camelCase, unknown fields rejected (typos are named)."""


class View(msgspec.Struct, rename="camel"):
    """Base of responses."""


# -- inference logs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which logs a query wants (every field optional)."""

    range: DateRange
    router_id: str | None = None
    status: Literal["completed", "failed"] | None = None
    model: str | None = None
    provider: str | None = None
    api_key_id: str | None = None
    virtual_key_id: str | None = None
    team_id: str | None = None


class LogView(View):
    id: str  # the inference event's id
    status: str  # completed | failed
    source: str
    request_id: str
    trace_id: str
    router_id: str | None
    target_id: str | None
    registration_id: str | None
    provider: str
    model: str
    api_key_id: str | None
    virtual_key_id: str | None
    user_id: str | None
    team_id: str | None
    stream: bool
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost_usd: float
    latency_ms: float
    time_to_first_token_ms: float | None
    cache_hit: bool
    status_code: int
    error_class: str
    error_message: str
    occurred_at: datetime
    logged_at: datetime


class PayloadView(View):
    """The bodies the router captured (`storePayloads`), each cut at its PAYLOAD_MAX_BYTES:
    a cut one is flagged."""

    request_body: str
    response_body: str
    request_truncated: bool
    response_truncated: bool
    captured_at: datetime


class LogDetail(View):
    log: LogView
    payload: PayloadView | None


class OffsetPage(View, Generic[T]):
    """A page of logs: the house envelope, with the offset it was taken at."""

    items: list[T]
    page: int
    per_page: int
    total: int
    offset: int


# -- usage and cost -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageFilter:
    first_day: date
    last_day: date
    router_id: str | None = None
    model: str | None = None
    provider: str | None = None
    api_key_id: str | None = None
    virtual_key_id: str | None = None
    team_id: str | None = None


class UsageTotals(View):
    requests: int
    failed_requests: int
    billed_requests: int  # what counts against caps: answered, or failed after a model ran
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost_usd: float
    cache_hits: int
    avg_latency_ms: float


class UsageRow(UsageTotals):
    key: str | None  # the group's value: a day, model, router id...; null: none


class UsageReport(View):
    group_by: Dimension
    from_: date = msgspec.field(name="from")
    to: date
    totals: UsageTotals
    items: list[UsageRow]
    page: int
    per_page: int
    total: int


class Spend(View):
    """What a team or virtual key used in a period: `usedRequests` counts what its caps count
    (answers, and failures after a model ran; refusals never)."""

    id: str
    used_requests: int
    failed_requests: int
    used_cost_usd: float
    from_: date = msgspec.field(name="from")
    to: date


# -- audit log ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditFilter:
    range: DateRange
    service: str | None = None
    type: str | None = None
    actor_id: str | None = None
    actor_kind: str | None = None
    aggregate_id: str | None = None


class AuditEntryView(View):
    id: str  # the event id
    type: str
    service: str
    aggregate_type: str
    aggregate_id: str
    action: str
    actor_id: str | None
    #: "user", "api_key", "operator" (the CLI) or "system"; null for an unattributed change.
    actor_kind: str | None
    data: dict[str, object]
    occurred_at: datetime
    recorded_at: datetime


# -- health ---------------------------------------------------------------------------------


class HealthView(View):
    registration_id: str
    provider: str
    model: str
    healthy: bool
    reason: str
    consecutive_failures: int
    latency_ms: float | None
    last_checked_at: datetime
    changed_at: datetime


class HealthCheckView(View):
    ok: bool
    latency_ms: float | None
    error: str
    checked_at: datetime


class HealthDetail(View):
    status: HealthView
    recent_checks: list[HealthCheckView]


# -- webhooks -------------------------------------------------------------------------------


class WebhookCreate(Camel):
    router_id: Id
    url: Url
    event_types: EventTypes = msgspec.field(
        default_factory=lambda: ["inference.completed", "inference.failed"]
    )
    enabled: bool = True


class WebhookUpdate(Camel):
    url: Url | msgspec.UnsetType = msgspec.UNSET
    event_types: EventTypes | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class WebhookView(View):
    id: str
    org_id: str
    router_id: str
    url: str
    event_types: list[str]
    enabled: bool
    created_by: str | None
    managed_by: Literal["api", "router"]  # router: follows the router's webhookUrl
    secret_rotated_at: datetime
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(View):
    """The only responses that show the signing secret: creation and rotation."""

    webhook: WebhookView
    secret: str


class DeliveryView(View):
    id: int
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
