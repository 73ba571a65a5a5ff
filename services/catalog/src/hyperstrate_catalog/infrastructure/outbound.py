"""Outbound HTTP to user-supplied URLs: provider base URLs and job callbacks, both checked by
the kit's `OutboundUrlGuard` (private and loopback addresses refused unless the operator
allows them with `OUTBOUND_ALLOW_PRIVATE` / `OUTBOUND_ALLOWED_HOSTS`).

A registration's base URL follows one rule wherever it is called: `BaseUrlGuard` judges it
(as written, then as DNS answers) before every `/ai` call, and before the catalog hands a
router the credentials to call it."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

import httpx

from hyperstrate_catalog.application.ports import CallbackFailed
from hyperstrate_kit.security import OutboundUrlGuard, UnsafeUrlError
from hyperstrate_providers import (
    CompletionResult,
    CompletionStream,
    ErrorClass,
    ProviderClient,
    ProviderConfig,
    ProviderError,
    WireObject,
)
from hyperstrate_providers.openai_types import ChatCompletionRequest

__all__ = ["BaseUrlGuard", "GuardedUpstream", "PinnedCallbackSender"]


class BaseUrlGuard:
    """The outbound rule for registrations' base URLs (the `BaseUrlCheck` port)."""

    def __init__(self, guard: OutboundUrlGuard) -> None:
        self.guard = guard

    async def refusal(self, base_url: str | None) -> str | None:
        """Why `base_url` may not be called now, with DNS resolution; None when it may."""
        if not base_url:  # the provider's own default endpoint
            return None
        try:
            await self.guard.check(base_url)
        except UnsafeUrlError as exc:
            return f"base URL refused: {exc.reason}"
        return None


class GuardedUpstream:
    """A `ProviderClient` that refuses a registration's base URL pointing somewhere unsafe
    (checked with DNS resolution before each call)."""

    def __init__(self, client: ProviderClient, base_urls: BaseUrlGuard) -> None:
        self.client = client
        self.base_urls = base_urls

    async def _check(self, config: ProviderConfig) -> None:
        refusal = await self.base_urls.refusal(config.base_url)
        if refusal is not None:
            raise ProviderError(
                ErrorClass.BAD_REQUEST,
                refusal,
                provider=config.kind.value,
                secrets=config.secrets,
            )

    async def complete(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> CompletionResult:
        """A whole completion, after the base URL check."""
        await self._check(config)
        return await self.client.complete(config, request)

    async def open_stream(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> CompletionStream:
        """A streaming completion, after the base URL check."""
        await self._check(config)
        return await self.client.open_stream(config, request)


def _host_for_url(address: str) -> str:
    return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address


class PinnedCallbackSender:
    """POSTs callbacks to the address the guard checked, not to a second DNS answer (DNS
    rebinding): the URL's host is replaced by the checked IP, and the original name goes in
    the Host header and as the TLS server name. Redirects are not followed."""

    def __init__(self, guard: OutboundUrlGuard, *, timeout: float = 10.0) -> None:
        self.guard = guard
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """Deliver once; 2xx returns the status, anything else raises `CallbackFailed`."""
        try:
            addresses = await self.guard.resolve_checked(url)
        except UnsafeUrlError as exc:
            raise CallbackFailed(f"callback URL refused: {exc.reason}", retryable=False) from None
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = _host_for_url(addresses[0]) + (f":{parts.port}" if parts.port else "")
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        request_headers = {**headers, "Host": parts.netloc.rpartition("@")[2]}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            response = await self._client.post(
                pinned, content=body, headers=request_headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            raise CallbackFailed(f"{type(exc).__name__}: {exc}", retryable=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return status
        retryable = status >= 500 or status in (408, 425, 429)
        raise CallbackFailed(f"HTTP {status}", retryable=retryable, status_code=status)
