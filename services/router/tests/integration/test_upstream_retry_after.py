"""An upstream's Retry-After reaches the client through the gateway capped: at 60 s by
default, at UPSTREAM_RETRY_AFTER_MAX_SECS when set (`retry-after: 999999999999` must not
tell a client to wait for ever); a sane one passes as it is."""

from __future__ import annotations

import pytest
from inference_support import InferenceStack, inference_stack

from hyperstrate_kit.settings import SettingsError, load_settings
from hyperstrate_kit.testing import Infrastructure, wait_for
from hyperstrate_router.settings import RouterSettings


async def _refusal(stack: InferenceStack, router: str, key: str) -> tuple[int, str | None]:
    """The status and Retry-After of a chat once the router is known (not a 404)."""

    async def answered() -> tuple[int, str | None] | None:
        async with stack.client(key) as client:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": router, "messages": [{"role": "user", "content": "x"}]},
            )
        if response.status_code in (401, 404):
            return None
        return response.status_code, response.headers.get("retry-after")

    result: tuple[int, str | None] = await wait_for(answered, timeout=10, message=router)
    return result


async def test_an_unbounded_upstream_retry_after_is_capped_at_60_seconds(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        await stack.router(
            "forever", [stack.register("fake-gpt;fail=429;retry_after=999999999999")]
        )
        await stack.router("sane", [stack.register("fake-gpt;fail=503;retry_after=7")])
        key = await stack.api_key()

        assert await _refusal(stack, "forever", key) == (429, "60")
        assert await _refusal(stack, "sane", key) == (502, "7")


async def test_the_cap_is_a_setting(infrastructure: Infrastructure) -> None:
    environ = {"UPSTREAM_RETRY_AFTER_MAX_SECS": "5"}
    async with inference_stack(infrastructure, router_environ=environ) as stack:
        await stack.router("capped", [stack.register("fake-gpt;fail=429;retry_after=30")])
        key = await stack.api_key()

        assert await _refusal(stack, "capped", key) == (429, "5")


@pytest.mark.parametrize("value", ["0", "100000", "nan"])
def test_an_out_of_range_cap_is_refused_at_start_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="UPSTREAM_RETRY_AFTER_MAX_SECS"):
        load_settings(
            RouterSettings,
            environ={
                "JWT_SECRET": "inference-test-secret-inference-x",
                "UPSTREAM_RETRY_AFTER_MAX_SECS": value,
            },
        )
