"""Schemathesis over every admin API, as an admin, against the stack `just up` runs: no
answer may be a 5xx, or off its documented schema and status codes; and every operation
behind a session declares `BearerAuth`, so Swagger UI's "Authorize" works.

Each service is fuzzed directly, then the gateway's merged document through its
pass-through. Bounded and reproducible by default (a fixed seed, 5 examples per operation);
`just fuzz` runs the same code deeper with a random seed: `HYPERSTRATE_FUZZ_EXAMPLES`
(examples per operation) and `HYPERSTRATE_FUZZ_SEED` (an integer, or `random`); a failure
report names its seed, and that seed replays the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from schemathesis.engine import events, from_schema
from stack_support import SERVICES, Stack, _free_port_block

from hyperstrate_kit.devstack import FAKE_UPSTREAM_OFFSET

pytestmark = pytest.mark.e2e

ADMIN = {"email": "fuzz-admin@acme.example", "password": "fuzz-admin-pass!"}
EXAMPLES = int(os.environ.get("HYPERSTRATE_FUZZ_EXAMPLES", "5"))
_SEED = os.environ.get("HYPERSTRATE_FUZZ_SEED", "20261203")
SEED = random.randrange(2**32) if _SEED == "random" else int(_SEED)
#: Per test; a deeper run takes longer in proportion.
TIMEOUT = 120 + 40 * EXAMPLES
CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance")

#: Operations that would wreck the run itself: schemathesis reuses the ids it has seen in
#: answers, so these would delete the fuzzing admin's own organisation or user, after which
#: every later call only meets 404s and tests nothing.
WRECKING = ("DeleteOrganization", "DeleteUser")
#: Public operations: no session needed, so no security requirement in the documents.
PUBLIC = frozenset(
    {"GetSetupStatus", "RunSetup", "Login", "RefreshSession", "Logout"}
    | {"StartOidcLogin", "FinishOidcLogin"}
)
#: Body fields holding a URL the stack will call (provider base URLs, webhooks, MCP servers,
#: job callbacks): pinned to the stack's fake upstream so no fuzzed request leaves loopback.
OUTBOUND_URL_FIELDS = frozenset({"baseUrl", "url", "callbackUrl", "webhookUrl"})
#: The gateway's own inference routes are not admin APIs (they have their own tests).
INFERENCE_PATHS = r"^/(v1|router|proxy)/"


@dataclass(frozen=True)
class FuzzStack:
    stack: Stack
    token: str

    @property
    def loopback_upstream(self) -> str:
        return f"http://127.0.0.1:{self.stack.base_port + FAKE_UPSTREAM_OFFSET}/v1"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FuzzStack]:
    stack = Stack(tmp_path_factory.mktemp("fuzz") / "data", _free_port_block())
    drain: asyncio.Task[None] | None = None
    try:
        await stack.start("--no-demo")
        # Fuzzing makes the services log a line per refused request: keep reading them, or
        # the pipe fills up and every service blocks on its next log line.
        drain = asyncio.create_task(_drain_output(stack))
        async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=10) as client:
            setup = await client.post("/auth/setup", json={"organizationName": "Fuzz", **ADMIN})
            assert setup.status_code == 201, setup.text
        yield FuzzStack(stack, setup.json()["accessToken"])
    finally:
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
        if stack.process and stack.process.returncode is None:
            await stack.interrupt()


async def _drain_output(stack: Stack, keep: int = 500) -> None:
    """Read the stack's output as it comes, keeping the last `keep` lines for a report."""
    assert stack.process and stack.process.stdout
    while line := await stack.process.stdout.readline():
        stack.output.append(line.decode(errors="replace"))
        del stack.output[:-keep]


@pytest.fixture
def outbound_urls_pinned(fuzz_stack: FuzzStack) -> Iterator[None]:
    """A schemathesis hook (a global one: `before_call` has no other scope) that rewrites
    every URL field of a request body to the loopback upstream before it is sent."""
    upstream = fuzz_stack.loopback_upstream

    def before_call(context: Any, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
        if isinstance(case.body, dict):
            _pin_urls(case.body, upstream)
            if case.operation.label == "POST /ai/registrations":
                case.body["baseUrl"] = upstream  # else the provider's public default

    schemathesis.hook(before_call)
    try:
        yield
    finally:
        schemathesis.hooks.unregister(before_call)


def _pin_urls(node: Any, upstream: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in OUTBOUND_URL_FIELDS and isinstance(value, str):
                node[key] = upstream
            else:
                _pin_urls(value, upstream)
    elif isinstance(node, list):
        for value in node:
            _pin_urls(value, upstream)


@dataclass(frozen=True)
class Finding:
    operation: str
    check: str
    title: str
    curl: str

    def __str__(self) -> str:
        return f"{self.operation} [{self.check}] {self.title}\n    {self.curl}"


def fuzz(base_url: str, token: str, exclude_path_regex: str | None = None) -> list[Finding]:
    """Run schemathesis' examples, coverage and fuzzing phases over the document at
    `base_url`; one finding per operation, check and kind of failure."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {token}"},
            "request-timeout": 15,
            "generation": {
                "max-examples": EXAMPLES,
                "no-shrink": True,  # the first failing example is reproduction enough
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            # Stateful runs follow links from created resources to their deletion, including
            # the admin's own user and organisation; the unit phases cover every operation.
            "phases": {"stateful": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/swagger/openapi.json", config=config)
    schema.config.update(base_url=base_url)
    schema = schema.exclude(operation_id=list(WRECKING))
    if exclude_path_regex:
        schema = schema.exclude(path_regex=exclude_path_regex)
    findings: dict[tuple[str, str, str], Finding] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            title = f"{type(event.value).__name__}: {event.value}"
            curl = event.info.code_sample or ""
            findings[(event.label, "error", title)] = Finding(event.label, "error", title, curl)
        if not isinstance(event, events.ScenarioFinished):
            continue
        for checks in event.recorder.checks.values():
            for check in checks:
                if check.failure_info is None:
                    continue
                key = (event.recorder.label, check.name, check.failure_info.failure.title)
                findings.setdefault(key, Finding(*key, curl=check.failure_info.code_sample.strip()))
    return list(findings.values())


def _report(findings: list[Finding]) -> str:
    return f"{len(findings)} failures (seed {SEED}):\n" + "\n".join(map(str, findings))


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("service", [name for name in SERVICES if name != "gateway"])
async def test_fuzzing_each_admin_api_finds_nothing(
    fuzz_stack: FuzzStack, outbound_urls_pinned: None, service: str
) -> None:
    url = fuzz_stack.stack.url(service)
    findings = await asyncio.to_thread(fuzz, url, fuzz_stack.token)
    assert not findings, _report(findings)


@pytest.mark.timeout(TIMEOUT)
async def test_fuzzing_the_admin_apis_through_the_gateway_finds_nothing(
    fuzz_stack: FuzzStack, outbound_urls_pinned: None
) -> None:
    url = fuzz_stack.stack.url("gateway")
    findings = await asyncio.to_thread(fuzz, url, fuzz_stack.token, INFERENCE_PATHS)
    assert not findings, _report(findings)


async def test_every_operation_behind_a_session_declares_bearer_auth(
    fuzz_stack: FuzzStack,
) -> None:
    """What a document declares is what the service does: an operation with a security
    requirement answers 401 without a token, one without answers anything else."""
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            base = fuzz_stack.stack.url(service)
            document = (await client.get(f"{base}/swagger/openapi.json")).json()
            schemes = document["components"]["securitySchemes"]
            assert schemes["BearerAuth"] == {
                "type": "http",
                "scheme": "bearer",
                "description": schemes["BearerAuth"]["description"],
            }, service
            if service == "gateway":  # one BearerAuth for the whole product, not one each
                assert set(schemes) == {"BearerAuth", "ApiKeyHeader"}
            for path, method, operation in _operations(document):
                declared = operation.get("security")
                if operation["operationId"] in PUBLIC:
                    assert declared is None, f"{service}: {method} {path} is public"
                    continue
                assert declared and {"BearerAuth": []} in declared, f"{service}: {method} {path}"
                if service == "gateway" and path.startswith(("/v1/", "/router/", "/proxy/")):
                    continue  # the inference routes: their 401s are tested with them
                anonymous = await client.request(method, base + _filled(path, operation), json={})
                assert anonymous.status_code == 401, f"{service}: {method} {path}"
                assert anonymous.json()["error"]


def _filled(path: str, operation: dict[str, Any]) -> str:
    """`path` with each path parameter set to a value of its type."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = "1" if parameter["schema"].get("type") == "integer" else "x1"
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                yield path, method.upper(), operation
