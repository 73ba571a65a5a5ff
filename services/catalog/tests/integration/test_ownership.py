"""Jobs and conversations belong to the principal that created them: another key of the same
organisation gets 404 (and lists without them), an admin session sees them all, and rows
from before owners were recorded are an admin's only."""

from __future__ import annotations

from typing import Any

from catalog_support import (
    Catalog,
    new_org,
    openai_url,
    publish_api_key,
    register,
    running_catalog,
)

from hyperstrate_catalog.domain.model import stream_id
from hyperstrate_catalog.infrastructure.repository import CatalogRepository
from hyperstrate_contracts.catalog import ConversationCreated, JobSubmitted
from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.keys import DIRECT_INFERENCE_RULE
from hyperstrate_kit.testing import Infrastructure, wait_for
from hyperstrate_providers.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "Summarise the weather"}]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _projected(catalog: Catalog, key: str) -> None:
    async def known() -> bool:
        response = await catalog.client.get("/ai/jobs", headers=_bearer(key))
        return response.status_code != 401

    await wait_for(known, message="the key projected")


async def _ids(catalog: Catalog, path: str, headers: dict[str, str]) -> list[str]:
    response = await catalog.client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_job_is_seen_by_its_key_and_admin_sessions_only(
    infrastructure: Infrastructure, private_nats: str, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    async with running_catalog(infrastructure, NATS_URL=private_nats) as catalog:
        registration = await register(catalog.client, org, openai_url(fake_upstream))
        nc = await connect_nats(private_nats, "test-auth")
        try:
            owner_id, owner = await publish_api_key(nc.jetstream(), org)
            _, other = await publish_api_key(nc.jetstream(), org)
            _, scoped = await publish_api_key(nc.jetstream(), org, router_ids=("rtr_x",))
        finally:
            await nc.drain()
        for key in (owner, other, scoped):
            await _projected(catalog, key)

        body = {"registrationId": registration["id"], "messages": MESSAGES}
        submitted = await catalog.client.post("/ai/jobs", headers=_bearer(owner), json=body)
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]

        mine = await catalog.client.get(f"/ai/jobs/{job_id}", headers=_bearer(owner))
        assert mine.status_code == 200
        assert (mine.json()["ownerKind"], mine.json()["ownerId"]) == ("api_key", owner_id)
        assert await _ids(catalog, "/ai/jobs", _bearer(owner)) == [job_id]

        # Another unscoped key of the same organisation: as if the job did not exist.
        theirs = await catalog.client.get(f"/ai/jobs/{job_id}", headers=_bearer(other))
        assert theirs.status_code == 404 and theirs.json()["error"] == "job not found"
        assert await _ids(catalog, "/ai/jobs", _bearer(other)) == []

        # An admin session sees every job of the organisation.
        assert (await catalog.client.get(f"/ai/jobs/{job_id}", headers=org.headers)).is_success
        assert await _ids(catalog, "/ai/jobs", org.headers) == [job_id]
        admins = (await catalog.client.post("/ai/jobs", headers=org.headers, json=body)).json()
        assert await _ids(catalog, "/ai/jobs", _bearer(owner)) == [job_id]
        assert set(await _ids(catalog, "/ai/jobs", org.headers)) == {job_id, admins["id"]}

        # A key scoped to a router may neither submit, nor list, nor read jobs.
        for method, path, json in (
            ("POST", "/ai/jobs", body),
            ("GET", "/ai/jobs", None),
            ("GET", f"/ai/jobs/{job_id}", None),
        ):
            refused = await catalog.client.request(method, path, headers=_bearer(scoped), json=json)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["error"].endswith(DIRECT_INFERENCE_RULE)


async def test_a_conversation_is_its_creators_and_an_admins(
    catalog: Catalog, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    registration = await register(catalog.client, org, openai_url(fake_upstream))
    nc = await connect_nats(catalog.settings.nats_url, "test-auth")
    try:
        owner_id, owner = await publish_api_key(nc.jetstream(), org)
        _, other = await publish_api_key(nc.jetstream(), org)
    finally:
        await nc.drain()
    for key in (owner, other):
        await _projected(catalog, key)

    async def create(headers: dict[str, str], title: str) -> str:
        body = {"title": title, "registrationId": registration["id"]}
        created = await catalog.client.post("/ai/conversations", headers=headers, json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    admins = await create(org.headers, "the admin's")
    keys = await create(_bearer(owner), "the key's")
    shown = (await catalog.client.get(f"/ai/conversations/{keys}", headers=_bearer(owner))).json()
    assert (shown["ownerKind"], shown["ownerId"]) == ("api_key", owner_id)
    sent = await catalog.client.post(
        f"/ai/conversations/{keys}/send", headers=_bearer(owner), json={"content": "hi"}
    )
    assert sent.status_code == 200, sent.text

    # Every route of someone else's conversation answers as for an unknown id.
    for conversation_id, stranger in ((admins, _bearer(owner)), (keys, _bearer(other))):
        for method, path, json in _conversation_routes(conversation_id):
            response = await catalog.client.request(method, path, headers=stranger, json=json)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"] == "conversation not found"
    assert await _ids(catalog, "/ai/conversations", _bearer(owner)) == [keys]
    assert await _ids(catalog, "/ai/conversations", _bearer(other)) == []

    # The admin session sees and works in both; nothing the strangers tried took effect.
    assert set(await _ids(catalog, "/ai/conversations", org.headers)) == {admins, keys}
    history = await catalog.client.get(f"/ai/conversations/{keys}/messages", headers=org.headers)
    # The owner's turn only: what the strangers tried to plant is not there.
    assert [m["role"] for m in history.json()["items"]] == ["user", "assistant"]
    assert history.json()["items"][0]["content"] == "hi"
    assert (
        await catalog.client.post(
            f"/ai/conversations/{keys}/send", headers=org.headers, json={"content": "admin"}
        )
    ).status_code == 200


def _conversation_routes(conversation_id: str) -> list[tuple[str, str, Any]]:
    path = f"/ai/conversations/{conversation_id}"
    return [
        ("GET", path, None),
        ("PATCH", path, {"title": "taken"}),
        ("GET", f"{path}/messages", None),
        ("POST", f"{path}/messages", {"role": "user", "content": "planted"}),
        ("POST", f"{path}/send", {"content": "planted"}),
        ("DELETE", path, None),
    ]


async def test_jobs_and_conversations_from_before_owners_are_an_admins_only(
    catalog: Catalog,
) -> None:
    org = new_org()
    nc = await connect_nats(catalog.settings.nats_url, "test-auth")
    try:
        key_id, key = await publish_api_key(nc.jetstream(), org)
    finally:
        await nc.drain()
    await _projected(catalog, key)
    # As the catalog recorded conversations before owners: no `owner` in the event.
    legacy = ConversationCreated(org_id=org.org_id, aggregate_id="conv_legacy1", title="old")
    await catalog.event_store().append(stream_id("conversation", "conv_legacy1"), 0, [legacy])

    path = "/ai/conversations/conv_legacy1"
    assert (await catalog.client.get(path, headers=_bearer(key))).status_code == 404
    assert await _ids(catalog, "/ai/conversations", _bearer(key)) == []
    shown = await catalog.client.get(path, headers=org.headers)
    assert shown.status_code == 200 and shown.json()["ownerKind"] is None
    assert await _ids(catalog, "/ai/conversations", org.headers) == ["conv_legacy1"]

    # A job as recorded then: `submitted_by` named the key, with no kind and no `owner`.
    job = JobSubmitted(
        org_id=org.org_id, aggregate_id="job_legacy1", registration_id="reg_x", submitted_by=key_id
    )
    store = catalog.event_store()
    async with catalog.database.transaction() as session:
        await store.append(stream_id("job", "job_legacy1"), 0, [job], session=session)
        await CatalogRepository().store_job_payload(
            session, "job_legacy1", org.org_id, {"request": {"messages": MESSAGES}}, None, None
        )
    assert (
        await catalog.client.get("/ai/jobs/job_legacy1", headers=_bearer(key))
    ).status_code == 404
    assert await _ids(catalog, "/ai/jobs", _bearer(key)) == []
    legacy_job = await catalog.client.get("/ai/jobs/job_legacy1", headers=org.headers)
    assert legacy_job.status_code == 200 and legacy_job.json()["ownerId"] is None
