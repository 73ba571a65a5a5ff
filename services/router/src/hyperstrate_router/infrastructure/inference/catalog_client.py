"""Registrations and credentials from the catalog over NATS request/reply, cached in memory
until a CATALOG event says the registration changed or went away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.aio.client import Client as NatsClient

from hyperstrate_contracts import Event
from hyperstrate_contracts.catalog import (
    BASE_URL_REFUSED,
    CREDENTIALS_SUBJECT,
    REGISTRATIONS_SUBJECT,
    Credentials,
    CredentialsRequest,
    RegistrationDeleted,
    RegistrationInfo,
    RegistrationList,
    RegistrationsRequest,
    RegistrationUpdated,
)
from hyperstrate_kit.bus import RemoteError, request
from hyperstrate_providers import ErrorClass, ProviderError

__all__ = ["CatalogClient"]

V = TypeVar("V")
Key = tuple[str, str]  # (org id, registration id)


class CatalogClient:
    """The router's view of the catalog: one request per registration, then memory."""

    def __init__(self, nc: NatsClient, timeout: float = 2.0) -> None:
        self.nc = nc
        self.timeout = timeout
        self._credentials: dict[Key, Credentials] = {}
        self._registrations: dict[Key, RegistrationInfo] = {}
        self._pending: dict[tuple[str, Key], asyncio.Future[object]] = {}

    async def credentials(self, org_id: str, registration_id: str) -> Credentials:
        """Decrypted credentials (LookupError when the catalog does not know them; a
        `ProviderError` as `/ai` calls answer, when the catalog refuses the base URL)."""
        key = (org_id, registration_id)
        cached = self._credentials.get(key)
        if cached is not None:
            return cached
        return await self._once("credentials", key, self._credentials, self._fetch_credentials)

    async def registration(self, org_id: str, registration_id: str) -> RegistrationInfo:
        """A registration's catalog facts (prices, capabilities)."""
        key = (org_id, registration_id)
        cached = self._registrations.get(key)
        if cached is not None:
            return cached
        return await self._once("registration", key, self._registrations, self._fetch_registration)

    def apply(self, event: Event) -> None:
        """Forget what an event made stale (followed from the CATALOG stream)."""
        if isinstance(event, RegistrationUpdated | RegistrationDeleted):
            key = (event.org_id, event.aggregate_id)
            self._registrations.pop(key, None)
            if isinstance(event, RegistrationDeleted) or event.credentials_changed:
                self._credentials.pop(key, None)

    async def _once(
        self, kind: str, key: Key, cache: dict[Key, V], fetch: Callable[[Key], Awaitable[V]]
    ) -> V:
        # Concurrent misses for one registration share a single request.
        pending = self._pending.get((kind, key))
        if pending is not None:
            return await pending  # type: ignore[return-value]
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._pending[(kind, key)] = future
        try:
            value = await fetch(key)
            cache[key] = value
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # consumed here; waiters get it through await
            raise
        finally:
            del self._pending[(kind, key)]

    async def _fetch_credentials(self, key: Key) -> Credentials:
        try:
            return await request(
                self.nc,
                CREDENTIALS_SUBJECT,
                CredentialsRequest(org_id=key[0], registration_id=key[1]),
                Credentials,
                timeout=self.timeout,
            )
        except RemoteError as exc:
            if exc.code == BASE_URL_REFUSED:  # not cached: asked again on the next call
                raise ProviderError(
                    ErrorClass.BAD_REQUEST, exc.message, provider="catalog"
                ) from None
            raise LookupError(f"registration {key[1]}: {exc.code}") from exc

    async def _fetch_registration(self, key: Key) -> RegistrationInfo:
        answer = await request(
            self.nc,
            REGISTRATIONS_SUBJECT,
            RegistrationsRequest(org_id=key[0], ids=(key[1],)),
            RegistrationList,
            timeout=self.timeout,
        )
        for info in answer.items:
            if info.id == key[1]:
                return info
        raise LookupError(f"registration {key[1]} not found")
