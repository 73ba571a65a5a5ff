"""Litestar controllers of the observability admin API (`/observability`).

Thin: validate, call, return. Filters longer than 100 characters and invalid dates are 400s
naming the parameter; the logs' `limit` and `offset` fall back to their defaults when out of
range (as the reference API does), while `page` and `perPage` behave as on every list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter, QueryParameter
from litestar.status_codes import HTTP_200_OK

from hyperstrate_kit.http import MAX_PER_PAGE, Page, PageParams, ResourceId
from hyperstrate_kit.sessions import Principal, admin_guard
from hyperstrate_observability.application import dto
from hyperstrate_observability.application.queries import ObservabilityQueries
from hyperstrate_observability.application.webhooks import WebhookService
from hyperstrate_observability.domain.dates import (
    BudgetPeriod,
    day_range,
    spend_range,
    time_range,
)
from hyperstrate_observability.domain.usage import Dimension

__all__ = ["CONTROLLERS", "DEFAULT_LIMIT", "MAX_OFFSET", "clamp_limit", "clamp_offset"]

Queries = NamedDependency[ObservabilityQueries]
Webhooks = NamedDependency[WebhookService]
Caller = NamedDependency[Principal]
Paging = NamedDependency[PageParams]

DEFAULT_LIMIT = 30
MAX_OFFSET = 1_000_000


FilterId = Annotated[str | None, QueryParameter(max_length=100)]
RouterFilter = Annotated[str | None, QueryParameter(name="routerId", max_length=100)]
ApiKeyFilter = Annotated[str | None, QueryParameter(name="apiKeyId", max_length=100)]
VirtualKeyFilter = Annotated[str | None, QueryParameter(name="virtualKeyId", max_length=100)]
TeamFilter = Annotated[str | None, QueryParameter(name="teamId", max_length=100)]
FromParam = Annotated[str | None, QueryParameter(name="from", max_length=64)]
ToParam = Annotated[str | None, QueryParameter(name="to", max_length=64)]
# The current period of a cap (`daily`, `weekly`, `monthly`, `all`), as the router counts it.
PeriodParam = Annotated[BudgetPeriod | None, QueryParameter(name="period")]


def clamp_limit(limit: int | None) -> int | None:
    """`limit` as given, or the default when it is out of range (<= 0 or > max)."""
    if limit is None:
        return None
    return limit if 0 < limit <= MAX_PER_PAGE else DEFAULT_LIMIT


def clamp_offset(offset: int | None) -> int | None:
    """`offset` as given, or the default (0) when it is out of range (< 0 or > max)."""
    if offset is None:
        return None
    return offset if 0 <= offset <= MAX_OFFSET else 0


def _today() -> datetime:
    return datetime.now(UTC)


class LogController(Controller):
    path = "/observability/logs"
    tags = ["hyperstrate", "observability"]
    guards = [admin_guard]

    @get(operation_id="ListInferenceLogs", summary="List inference logs, newest first")
    async def list_all(
        self,
        queries: Queries,
        principal: Caller,
        page_params: Paging,
        router_id: RouterFilter = None,
        status: Annotated[Literal["completed", "failed"] | None, QueryParameter()] = None,
        model: FilterId = None,
        provider: FilterId = None,
        api_key_id: ApiKeyFilter = None,
        virtual_key_id: VirtualKeyFilter = None,
        team_id: TeamFilter = None,
        from_: FromParam = None,
        to: ToParam = None,
        limit: Annotated[int | None, QueryParameter()] = None,
        offset: Annotated[int | None, QueryParameter()] = None,
    ) -> dto.OffsetPage[dto.LogView]:
        where = dto.LogFilter(
            range=time_range(from_, to),
            router_id=router_id,
            status=status,
            model=model,
            provider=provider,
            api_key_id=api_key_id,
            virtual_key_id=virtual_key_id,
            team_id=team_id,
        )
        take = clamp_limit(limit) or page_params.limit
        skip = clamp_offset(offset)
        if skip is None:
            skip = (page_params.page - 1) * take
        return await queries.logs(principal, where, skip, take)

    @get("/{log_id:str}", operation_id="GetInferenceLog", summary="One log, with its payload")
    async def get_one(
        self, queries: Queries, principal: Caller, log_id: ResourceId
    ) -> dto.LogDetail:
        return await queries.log(principal, log_id)


class UsageController(Controller):
    path = "/observability/usage"
    tags = ["hyperstrate", "observability"]
    guards = [admin_guard]

    @get(operation_id="GetUsage", summary="Usage and cost over whole UTC days, grouped")
    async def report(
        self,
        queries: Queries,
        principal: Caller,
        page_params: Paging,
        group_by: Annotated[Dimension, QueryParameter(name="groupBy")] = Dimension.DAY,
        router_id: RouterFilter = None,
        model: FilterId = None,
        provider: FilterId = None,
        api_key_id: ApiKeyFilter = None,
        virtual_key_id: VirtualKeyFilter = None,
        team_id: TeamFilter = None,
        from_: FromParam = None,
        to: ToParam = None,
    ) -> dto.UsageReport:
        first, last = day_range(from_, to, today=_today().date())
        where = dto.UsageFilter(
            first_day=first,
            last_day=last,
            router_id=router_id,
            model=model,
            provider=provider,
            api_key_id=api_key_id,
            virtual_key_id=virtual_key_id,
            team_id=team_id,
        )
        return await queries.usage(principal, where, group_by, page_params)

    @get(
        "/teams/{team_id:str}",
        operation_id="GetTeamSpend",
        summary="A team's used requests and cost (30 days, or the current budget period)",
    )
    async def team(
        self,
        queries: Queries,
        principal: Caller,
        team_id: ResourceId,
        from_: FromParam = None,
        to: ToParam = None,
        period: PeriodParam = None,
    ) -> dto.Spend:
        first, last = spend_range(period, from_, to, today=_today().date())
        where = dto.UsageFilter(first_day=first, last_day=last, team_id=team_id)
        return await queries.spend(principal, "team", team_id, where)

    @get(
        "/virtual-keys/{key_id:str}",
        operation_id="GetVirtualKeySpend",
        summary="A virtual key's used requests and cost (30 days, or the current budget period)",
    )
    async def virtual_key(
        self,
        queries: Queries,
        principal: Caller,
        key_id: ResourceId,
        from_: FromParam = None,
        to: ToParam = None,
        period: PeriodParam = None,
    ) -> dto.Spend:
        first, last = spend_range(period, from_, to, today=_today().date())
        where = dto.UsageFilter(first_day=first, last_day=last, virtual_key_id=key_id)
        return await queries.spend(principal, "virtual_key", key_id, where)


class AuditController(Controller):
    path = "/observability/audit"
    tags = ["hyperstrate", "observability"]
    guards = [admin_guard]

    @get(operation_id="ListAuditLog", summary="Who did what, when: admin events, newest first")
    async def list_all(
        self,
        queries: Queries,
        principal: Caller,
        page_params: Paging,
        service: Annotated[
            Literal["auth", "catalog", "router", "prompts", "observability"] | None,
            QueryParameter(),
        ] = None,
        type_: Annotated[str | None, QueryParameter(name="type", max_length=100)] = None,
        actor_id: Annotated[str | None, QueryParameter(name="actorId", max_length=100)] = None,
        actor_kind: Annotated[
            Literal["user", "api_key", "operator", "system"] | None,
            QueryParameter(name="actorKind"),
        ] = None,
        aggregate_id: Annotated[
            str | None, QueryParameter(name="aggregateId", max_length=100)
        ] = None,
        from_: FromParam = None,
        to: ToParam = None,
    ) -> Page[dto.AuditEntryView]:
        where = dto.AuditFilter(
            range=time_range(from_, to),
            service=service,
            type=type_,
            actor_id=actor_id,
            actor_kind=actor_kind,
            aggregate_id=aggregate_id,
        )
        items, total = await queries.audit(principal, where, page_params)
        return Page.of(items, page_params, total)


class HealthController(Controller):
    path = "/observability/health"
    tags = ["hyperstrate", "observability"]
    guards = [admin_guard]

    @get(operation_id="ListRegistrationHealth", summary="Registrations as last probed")
    async def list_all(
        self,
        queries: Queries,
        principal: Caller,
        page_params: Paging,
        healthy: Annotated[bool | None, QueryParameter()] = None,
    ) -> Page[dto.HealthView]:
        items, total = await queries.health_statuses(principal, page_params, healthy)
        return Page.of(items, page_params, total)

    @get(
        "/{registration_id:str}",
        operation_id="GetRegistrationHealth",
        summary="A registration's health and its recent probes",
    )
    async def get_one(
        self, queries: Queries, principal: Caller, registration_id: ResourceId
    ) -> dto.HealthDetail:
        return await queries.health(principal, registration_id)


DeliveryId = Annotated[int, Parameter(ge=1)]


class WebhookController(Controller):
    path = "/observability/webhooks"
    tags = ["hyperstrate", "observability"]
    guards = [admin_guard]

    @get(operation_id="ListWebhooks", summary="List webhooks")
    async def list_all(
        self,
        webhooks: Webhooks,
        principal: Caller,
        page_params: Paging,
        router_id: RouterFilter = None,
    ) -> Page[dto.WebhookView]:
        items, total = await webhooks.list_webhooks(principal, router_id, page_params)
        return Page.of(items, page_params, total)

    @post(
        operation_id="CreateWebhook",
        summary="Subscribe a URL to a router's events (secret shown once)",
    )
    async def create(
        self, webhooks: Webhooks, principal: Caller, data: JSONBody[dto.WebhookCreate]
    ) -> dto.WebhookWithSecret:
        return await webhooks.create(principal, data)

    @get("/{webhook_id:str}", operation_id="GetWebhook", summary="Get a webhook")
    async def get_one(
        self, webhooks: Webhooks, principal: Caller, webhook_id: ResourceId
    ) -> dto.WebhookView:
        return await webhooks.get(principal, webhook_id)

    @patch("/{webhook_id:str}", operation_id="UpdateWebhook", summary="Update a webhook")
    async def update(
        self,
        webhooks: Webhooks,
        principal: Caller,
        webhook_id: ResourceId,
        data: JSONBody[dto.WebhookUpdate],
    ) -> dto.WebhookView:
        return await webhooks.update(principal, webhook_id, data)

    @delete("/{webhook_id:str}", operation_id="DeleteWebhook", summary="Delete a webhook")
    async def remove(self, webhooks: Webhooks, principal: Caller, webhook_id: ResourceId) -> None:
        await webhooks.delete(principal, webhook_id)

    @post(
        "/{webhook_id:str}/rotate-secret",
        operation_id="RotateWebhookSecret",
        summary="Replace the signing secret (the new one is shown once; for a router's own "
        "webhook, the way to learn its secret)",
        status_code=HTTP_200_OK,
    )
    async def rotate(
        self, webhooks: Webhooks, principal: Caller, webhook_id: ResourceId
    ) -> dto.WebhookWithSecret:
        return await webhooks.rotate_secret(principal, webhook_id)

    @get(
        "/{webhook_id:str}/deliveries",
        operation_id="ListWebhookDeliveries",
        summary="A webhook's deliveries, newest first",
    )
    async def deliveries(
        self,
        webhooks: Webhooks,
        principal: Caller,
        webhook_id: ResourceId,
        page_params: Paging,
        status: Annotated[dto.DeliveryStatus | None, QueryParameter()] = None,
    ) -> Page[dto.DeliveryView]:
        items, total = await webhooks.deliveries(principal, webhook_id, status, page_params)
        return Page.of(items, page_params, total)

    @post(
        "/{webhook_id:str}/deliveries/{delivery_id:int}/retry",
        operation_id="RetryWebhookDelivery",
        summary="Send a dead-lettered delivery again",
        status_code=HTTP_200_OK,
    )
    async def retry(
        self,
        webhooks: Webhooks,
        principal: Caller,
        webhook_id: ResourceId,
        delivery_id: DeliveryId,
    ) -> dto.DeliveryView:
        return await webhooks.retry(principal, webhook_id, delivery_id)


CONTROLLERS = [LogController, UsageController, AuditController, HealthController, WebhookController]
