"""Registrations end to end: the catalog, CRUD, events without secrets, credentials by
request/reply, and read models rebuilt from the events."""

from __future__ import annotations

from catalog_support import PROVIDER_KEY, Catalog, collect_events, new_org, register
from sqlalchemy import text

from hyperstrate_contracts.catalog import (
    CREDENTIALS_SUBJECT,
    REGISTRATIONS_SUBJECT,
    Credentials,
    CredentialsRequest,
    RegistrationList,
    RegistrationsRequest,
)
from hyperstrate_kit.bus import RemoteError, connect_nats, request
from hyperstrate_kit.testing import wait_for


async def test_the_catalog_lists_models_with_prices_and_capabilities(catalog: Catalog) -> None:
    org = new_org(role="member")
    response = await catalog.client.get("/ai/catalog?perPage=500", headers=org.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    keys = {item["key"]: item for item in page["items"]}
    assert {"gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash", "fake-gpt", "fake-claude"} <= set(
        keys
    )
    assert page["total"] == len(page["items"]) and page["perPage"] == 500
    gpt = keys["gpt-4o"]
    assert gpt["provider"] == "openai" and gpt["contextWindow"] == 128_000
    assert gpt["pricing"] == {
        "inputPerMillion": 2.5,
        "outputPerMillion": 10.0,
        "cachedInputPerMillion": 1.25,
    }
    assert gpt["capabilities"] == {
        "tools": True,
        "vision": True,
        "jsonSchema": True,
        "streaming": True,
    }
    anthropic = await catalog.client.get("/ai/catalog?provider=anthropic", headers=org.headers)
    assert {item["provider"] for item in anthropic.json()["items"]} == {"anthropic"}
    assert (await catalog.client.get("/ai/catalog")).status_code == 401


async def test_registration_story(catalog: Catalog) -> None:
    client, org = catalog.client, new_org()
    base_url = "http://127.0.0.1:9/v1"
    created = await register(client, org, base_url)
    registration_id = created["id"]
    assert created["catalogKey"] == "fake-gpt" and created["model"] == "fake-gpt"
    assert created["provider"] == "openai_compatible" and created["hasApiKey"] is True
    assert "apiKey" not in created and PROVIDER_KEY not in str(created)

    listed = (await client.get("/ai/registrations", headers=org.headers)).json()
    assert [item["id"] for item in listed["items"]] == [registration_id]
    assert listed["total"] == 1 and listed["page"] == 1 and listed["perPage"] == 30

    renamed = await client.patch(
        f"/ai/registrations/{registration_id}",
        headers=org.headers,
        json={"name": "renamed", "model": "fake-gpt;tokens=3"},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "renamed" and renamed.json()["model"] == "fake-gpt;tokens=3"

    # The router's view: decrypted credentials over request/reply, never in events.
    nc = await connect_nats(catalog.settings.nats_url, "test-router")
    try:
        credentials = await request(
            nc,
            CREDENTIALS_SUBJECT,
            CredentialsRequest(org_id=org.org_id, registration_id=registration_id),
            Credentials,
        )
        assert credentials.api_key == PROVIDER_KEY and credentials.base_url == base_url
        assert credentials.provider == "openai_compatible"
        assert credentials.model == "fake-gpt;tokens=3"
        assert PROVIDER_KEY not in repr(credentials)
        other_org = new_org()
        try:
            await request(
                nc,
                CREDENTIALS_SUBJECT,
                CredentialsRequest(org_id=other_org.org_id, registration_id=registration_id),
                Credentials,
            )
            raise AssertionError("another organisation got the credentials")
        except RemoteError as exc:
            assert exc.code == "not_found"
        infos = await request(
            nc, REGISTRATIONS_SUBJECT, RegistrationsRequest(org_id=org.org_id), RegistrationList
        )
        assert [info.id for info in infos.items] == [registration_id]
        assert infos.items[0].input_per_million == 1.0 and infos.items[0].supports_tools
    finally:
        await nc.drain()

    rotated = await client.patch(
        f"/ai/registrations/{registration_id}", headers=org.headers, json={"apiKey": ""}
    )
    assert rotated.json()["hasApiKey"] is False
    deleted = await client.delete(f"/ai/registrations/{registration_id}", headers=org.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/ai/registrations/{registration_id}", headers=org.headers)
    assert gone.status_code == 404 and gone.json() == {
        "error": "registration not found",
        "fields": {},
    }

    events = await catalog.stored_events(f"registration-{registration_id}")
    assert [e["type"] for e in events] == [
        "catalog.registration.created",
        "catalog.registration.updated",
        "catalog.registration.updated",
        "catalog.registration.deleted",
    ]
    assert all(PROVIDER_KEY not in e["data"] for e in events)
    assert '"credentials_changed":true' in events[1]["data"].replace(" ", "")


async def test_secrets_never_reach_events_responses_or_the_bus(catalog: Catalog) -> None:
    client, org = catalog.client, new_org()
    received, nc = await collect_events(catalog.settings.nats_url, "catalog.registration.>")
    try:
        created = await register(client, org, "http://127.0.0.1:9/v1")
        responses = [
            await client.get(f"/ai/registrations/{created['id']}", headers=org.headers),
            await client.get("/ai/registrations", headers=org.headers),
            await client.patch(
                f"/ai/registrations/{created['id']}",
                headers=org.headers,
                json={"apiKey": PROVIDER_KEY + "-rotated"},
            ),
        ]
        assert all(PROVIDER_KEY not in r.text for r in responses)
        await wait_for(
            lambda: sum(1 for m in received if m["aggregate_id"] == created["id"]) == 2,
            message="the relay to publish the registration's events",
        )
        assert all(PROVIDER_KEY not in str(m) for m in received)
    finally:
        await nc.drain()
    async with catalog.database.sessions() as session:
        stored = (await session.execute(text("SELECT data::text FROM event_store"))).scalars()
        assert all(PROVIDER_KEY not in row for row in stored)
        sealed = (
            await session.execute(text("SELECT api_key_ciphertext FROM registration_secrets"))
        ).scalar_one()
    assert sealed.startswith("v1.") and PROVIDER_KEY not in sealed


async def test_read_models_rebuild_from_events_to_the_same_tables(catalog: Catalog) -> None:
    client, org = catalog.client, new_org()
    first = await register(client, org, "http://127.0.0.1:9/v1", name="first")
    second = await register(client, org, "http://127.0.0.1:9/v1", name="second")
    await client.patch(f"/ai/registrations/{first['id']}", headers=org.headers, json={"name": "1"})
    await client.delete(f"/ai/registrations/{second['id']}", headers=org.headers)
    conversation = await client.post(
        "/ai/conversations", headers=org.headers, json={"title": "t", "registrationId": first["id"]}
    )
    await client.post(
        f"/ai/conversations/{conversation.json()['id']}/messages",
        headers=org.headers,
        json={"role": "user", "content": "hello"},
    )
    await client.post(
        "/ai/mcp/servers",
        headers=org.headers,
        json={"name": "tools", "url": "https://mcp.example.com/mcp"},
    )
    tables = ("registrations", "conversations", "conversation_messages", "mcp_servers", "jobs")

    async def snapshot() -> dict[str, list[str]]:
        async with catalog.database.sessions() as session:
            return {
                table: sorted(
                    (await session.execute(text(f"SELECT row_to_json(t)::text FROM {table} t")))
                    .scalars()
                    .all()
                )
                for table in tables
            }

    before = await snapshot()
    replayed = await catalog.event_store().rebuild()
    assert replayed >= 6
    assert await snapshot() == before
