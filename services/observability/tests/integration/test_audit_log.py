"""The audit log: admin events of every service, read by their envelope alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from observability_support import JWT_SECRET, Client, admin_of, new_org

from hyperstrate_contracts import new_event_id
from hyperstrate_contracts.auth import ApiKeyCreated, TeamCreated
from hyperstrate_contracts.prompts import PromptCreated
from hyperstrate_kit.sessions import verify_access_token
from hyperstrate_kit.testing import wait_for


def _raw(subject: str, org_id: str, aggregate_id: str, **data: Any) -> tuple[str, dict[str, Any]]:
    """An event of a stream whose classes we do not import (the audit log must not need them)."""
    return subject, {
        "type": subject,
        "org_id": org_id,
        "aggregate_id": aggregate_id,
        "aggregate_version": 1,
        "event_id": new_event_id(),
        "occurred_at": datetime.now(UTC).isoformat(),
        "version": 1,
        **data,
    }


async def test_admin_events_of_every_stream_are_audited_and_scoped(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org, other_org = new_org(), new_org()
    js = nats_client.jetstream()
    typed = [
        TeamCreated(org_id=org, aggregate_id="team-1", name="Core"),
        ApiKeyCreated(
            org_id=org,
            aggregate_id="key-1",
            name="ci",
            prefix="hs_abc",
            key_hash="f" * 64,
            user_id="usr-1",
            role="admin",
        ),
        PromptCreated(
            org_id=org,
            aggregate_id="prompt-1",
            name="p",
            text="{{x}}",
            variables=("x",),
            version_number=1,
            actor_id="usr-42",
        ),
        TeamCreated(org_id=other_org, aggregate_id="team-9", name="Theirs"),
    ]
    raw = [
        _raw("router.router.created", org, "router-1", name="main", actor_id="usr-42"),
        _raw("catalog.registration.created", org, "reg-1", provider="openai", model="gpt-4o"),
        _raw("catalog.job.started", org, "job-1", attempt=1),  # activity, not administration
        _raw("catalog.conversation.message_added", org, "conv-1", content="private words"),
    ]
    for event in typed:
        await js.publish(event.type, msgspec.json.encode(event))
    for subject, body in raw:
        # As a writer's relay sends it: the actor in headers, beside the body.
        headers = {"Hs-Actor-Kind": "api_key", "Hs-Actor-Id": "key-3"}
        named = subject == "catalog.registration.created"
        await js.publish(subject, msgspec.json.encode(body), headers=headers if named else None)
    admin = admin_of(org)
    admin_user_id = verify_access_token(admin["Authorization"].split()[1], JWT_SECRET).user_id
    webhook = await observability_client.post(
        "/observability/webhooks",
        headers=admin,
        json={"routerId": "router-1", "url": "https://hooks.example.com/in"},
    )
    assert webhook.status_code == 201

    async def entries(query: str = "") -> list[dict[str, Any]]:
        response = await observability_client.get(
            f"/observability/audit?perPage=100{query}", headers=admin
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    async def all_there() -> bool:  # the admin's own account, created on AUTH, counts too
        return len(await entries()) == 7

    await wait_for(all_there, timeout=20, message="7 audit entries")
    found = {entry["type"]: entry for entry in await entries()}
    assert set(found) == {
        "auth.user.created",
        "auth.team.created",
        "auth.api_key.created",
        "prompts.prompt.created",
        "router.router.created",
        "catalog.registration.created",
        "observability.webhook.created",
    }
    key = found["auth.api_key.created"]
    assert (key["service"], key["aggregateType"], key["action"]) == ("auth", "api_key", "created")
    assert key["aggregateId"] == "key-1"
    assert key["data"]["key_hash"] == "***" and key["data"]["name"] == "ci"
    # An event recorded before actors travelled in headers names its user in its body.
    prompt = found["prompts.prompt.created"]
    assert (prompt["actorKind"], prompt["actorId"]) == ("user", "usr-42")
    registration = found["catalog.registration.created"]
    assert (registration["actorKind"], registration["actorId"]) == ("api_key", "key-3")
    assert (found["auth.team.created"]["actorKind"], found["auth.team.created"]["actorId"]) == (
        None,
        None,
    )
    hook = found["observability.webhook.created"]
    assert (hook["actorKind"], hook["actorId"]) == ("user", admin_user_id)  # who created it

    assert {e["type"] for e in await entries("&actorId=usr-42")} == {
        "prompts.prompt.created",
        "router.router.created",
    }
    assert {e["type"] for e in await entries("&actorKind=api_key")} == {
        "catalog.registration.created"
    }
    bad_kind = await observability_client.get("/observability/audit?actorKind=robot", headers=admin)
    assert bad_kind.status_code == 400 and "actorKind" in bad_kind.json()["fields"]
    assert {e["type"] for e in await entries("&service=auth")} == {
        "auth.user.created",
        "auth.team.created",
        "auth.api_key.created",
    }
    assert [e["aggregateId"] for e in await entries("&aggregateId=team-1")] == ["team-1"]
    assert await entries("&to=2000-01-01") == []
    bad = await observability_client.get("/observability/audit?from=soon", headers=admin)
    assert bad.status_code == 400 and "from" in bad.json()["fields"]

    theirs = await observability_client.get("/observability/audit", headers=admin_of(other_org))
    their_admin_events = [e for e in theirs.json()["items"] if e["type"] != "auth.user.created"]
    assert [e["aggregateId"] for e in their_admin_events] == ["team-9"]
