"""The prompt story: every save is an immutable version, restore makes a new one from an old
one, variables are extracted on each save, and the PROMPTS events carry the whole state."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient
from prompts_support import admin_of
from sqlalchemy import select

from hyperstrate_contracts.prompts import (
    PromptCreated,
    PromptRestored,
    PromptUpdated,
    prompts_registry,
)
from hyperstrate_kit.database import Database
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.testing import wait_for
from hyperstrate_prompts.infrastructure.projections import PromptProjection
from hyperstrate_prompts.infrastructure.tables import PROJECTION_TABLES
from hyperstrate_prompts.settings import PromptsSettings

Client = AsyncTestClient[Litestar]


async def _create(client: Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/prompts", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_saves_versions_restore_and_history(prompts_client: Client) -> None:
    admin = admin_of()
    prompt = await _create(
        prompts_client,
        admin,
        name="support",
        text="You are {{persona}} helping {{ customer }}.",
        description="support bot",
    )
    assert prompt["version"] == 1
    assert prompt["variables"] == ["persona", "customer"]
    url = f"/prompts/{prompt['id']}"

    saved = await prompts_client.patch(url, headers=admin, json={"text": "Answer in {{lang}}."})
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    assert saved.json()["variables"] == ["lang"]
    assert saved.json()["name"] == "support"  # untouched fields keep their value

    renamed = await prompts_client.patch(url, headers=admin, json={"name": "support-v2"})
    assert renamed.json()["version"] == 3  # every save is a version, even without a text change
    assert renamed.json()["variables"] == ["lang"]

    restored = await prompts_client.post(f"{url}/versions/1/restore", headers=admin)
    assert restored.status_code == 200, restored.text
    current = restored.json()
    assert current["version"] == 4
    assert current["text"] == "You are {{persona}} helping {{ customer }}."
    assert current["name"] == "support"
    assert current["variables"] == ["persona", "customer"]

    history = (await prompts_client.get(f"{url}/versions", headers=admin)).json()
    assert history["total"] == 4
    assert [v["version"] for v in history["items"]] == [4, 3, 2, 1]
    assert history["items"][0]["restoredFrom"] == 1
    assert all(v["createdBy"] for v in history["items"])

    # Versions are immutable: version 1 is exactly what was first saved.
    first = (await prompts_client.get(f"{url}/versions/1", headers=admin)).json()
    assert first["text"] == "You are {{persona}} helping {{ customer }}."
    assert first["description"] == "support bot"
    assert first["restoredFrom"] is None
    assert (await prompts_client.get(f"{url}/versions/9", headers=admin)).status_code == 404
    missing = await prompts_client.post(f"{url}/versions/9/restore", headers=admin)
    assert missing.status_code == 404

    listed = (await prompts_client.get("/prompts", headers=admin)).json()
    assert [p["id"] for p in listed["items"]] == [prompt["id"]]
    assert listed["items"][0]["version"] == 4


async def test_render_fills_variables_and_names_the_missing_ones(prompts_client: Client) -> None:
    admin = admin_of()
    prompt = await _create(prompts_client, admin, name="p", text="Hi {{name}}, {{ tone }}!")
    url = f"/prompts/{prompt['id']}/render"

    ok = await prompts_client.post(
        url, headers=admin, json={"variables": {"name": "Ada", "tone": 1}}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"promptId": prompt["id"], "version": 1, "text": "Hi Ada, 1!"}

    missing = await prompts_client.post(url, headers=admin, json={"variables": {"name": "Ada"}})
    assert missing.status_code == 400
    assert "tone" in missing.json()["error"]
    assert "variables.tone" in missing.json()["fields"]

    await prompts_client.patch(f"/prompts/{prompt['id']}", headers=admin, json={"text": "{{x}}"})
    old = await prompts_client.post(
        url, headers=admin, json={"version": 1, "variables": {"name": "A", "tone": "calm"}}
    )
    assert old.json()["text"] == "Hi A, calm!"


async def test_names_are_unique_per_organisation_and_free_again_after_delete(
    prompts_client: Client,
) -> None:
    admin, other_org = admin_of(), admin_of()
    prompt = await _create(prompts_client, admin, name="same", text="t")
    taken = await prompts_client.post("/prompts", headers=admin, json={"name": "same", "text": "u"})
    assert taken.status_code == 409
    assert "name" in taken.json()["fields"]
    await _create(prompts_client, other_org, name="same", text="t")  # another org: fine

    other = await _create(prompts_client, admin, name="other", text="t")
    rename = await prompts_client.patch(
        f"/prompts/{other['id']}", headers=admin, json={"name": "same"}
    )
    assert rename.status_code == 409

    deleted = await prompts_client.delete(f"/prompts/{prompt['id']}", headers=admin)
    assert deleted.status_code == 204
    assert (await prompts_client.get(f"/prompts/{prompt['id']}", headers=admin)).status_code == 404
    gone = await prompts_client.get(f"/prompts/{prompt['id']}/versions", headers=admin)
    assert gone.status_code == 404
    await _create(prompts_client, admin, name="same", text="again")


async def test_events_carry_the_whole_state_for_the_router(
    prompts_client: Client, nats_client: NatsClient
) -> None:
    admin = admin_of()
    prompt = await _create(prompts_client, admin, name="evented", text="{{a}}")
    url = f"/prompts/{prompt['id']}"
    await prompts_client.patch(url, headers=admin, json={"text": "{{a}} {{b}}"})
    await prompts_client.post(f"{url}/versions/1/restore", headers=admin)

    received: list[Any] = []

    async def on_message(msg: Any) -> None:
        data = msgspec.json.decode(msg.data)
        if data["aggregate_id"] == prompt["id"]:
            received.append((msg.subject, data))

    js = nats_client.jetstream()
    subscription = await js.subscribe("prompts.prompt.>", cb=on_message, ordered_consumer=True)
    try:
        await wait_for(lambda: len(received) == 3, timeout=10, message="3 prompt events")
    finally:
        await subscription.unsubscribe()
    assert [subject for subject, _ in received] == [
        PromptCreated.__struct_config__.tag,
        PromptUpdated.__struct_config__.tag,
        PromptRestored.__struct_config__.tag,
    ]
    assert [(d["version_number"], d["variables"], d["text"]) for _, d in received] == [
        (1, ["a"], "{{a}}"),
        (2, ["a", "b"], "{{a}} {{b}}"),
        (3, ["a"], "{{a}}"),
    ]
    assert received[2][1]["restored_from"] == 1
    assert received[0][1]["name"] == "evented"


async def test_rebuilding_the_read_models_gives_the_same_tables(
    prompts_client: Client, prompts_settings: PromptsSettings
) -> None:
    admin = admin_of()
    for index in range(3):
        prompt = await _create(prompts_client, admin, name=f"p{index}", text=f"{{{{v{index}}}}}")
        await prompts_client.patch(
            f"/prompts/{prompt['id']}", headers=admin, json={"description": "d"}
        )
    await prompts_client.delete(f"/prompts/{prompt['id']}", headers=admin)
    restore = await prompts_client.post(
        f"/prompts/{prompt['id']}/versions/1/restore", headers=admin
    )
    assert restore.status_code == 404  # a deleted prompt cannot come back

    # `python -m hyperstrate_prompts rebuild` does the same from its own connection.
    database = await Database.open(
        prompts_settings.database_url, prompts_settings.database, migrations=[]
    )
    store = EventStore(database, prompts_registry(), [PromptProjection()])

    async def snapshot() -> list[list[tuple[Any, ...]]]:
        async with database.sessions() as session:
            return [
                sorted(tuple(row) for row in (await session.execute(select(table))).all())
                for table in PROJECTION_TABLES
            ]

    try:
        before = await snapshot()
        assert sum(len(rows) for rows in before) == 2 + 4  # two live prompts, two versions each
        assert await store.rebuild() == 7
        assert await snapshot() == before
    finally:
        await database.close()
