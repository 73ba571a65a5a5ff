"""Event subscribers: docs/events.md matches the contracts, and the example subscriber follows
`inference.completed` with a durable consumer of its own."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from nats.aio.client import Client as NatsClient
from observability_support import completed, failed, fresh_inference_stream, new_org, publish

from hyperstrate_contracts.docs import generate
from hyperstrate_kit.testing import Infrastructure, unique_name

ROOT = Path(__file__).resolve().parents[4]


def test_events_doc_is_generated_from_the_contracts() -> None:
    written = (ROOT / "docs" / "events.md").read_text()
    assert written == generate(), (
        "docs/events.md is out of date: run "
        "`.venv/bin/python -m hyperstrate_contracts.docs > docs/events.md`"
    )
    for subject in ("inference.completed", "prompts.prompt.created", "auth.api_key.revoked"):
        assert f"### `{subject}`" in written


async def test_the_example_subscriber_gets_completed_events_and_resumes_where_it_left(
    infrastructure: Infrastructure, nats_client: NatsClient
) -> None:
    js = nats_client.jetstream()
    await fresh_inference_stream(js)  # a new consumer starts at the stream's first event
    org = new_org()
    durable = unique_name("example")
    first = [completed(org) for _ in range(3)]
    await publish(js, [*first, failed(org)])

    async def run_example(count: int) -> list[dict[str, object]]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "examples" / "subscriber.py"),
            "--nats-url", infrastructure.nats_url, "--durable", durable, "--max", str(count),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        return [json.loads(line) for line in out.decode().splitlines()]

    seen = await run_example(3)  # the failed event is not for this subscriber
    assert [line["event_id"] for line in seen] == [e.event_id for e in first]
    assert {line["org_id"] for line in seen} == {org}
    later = completed(org)
    await publish(js, [later])
    resumed = await run_example(1)
    assert [line["event_id"] for line in resumed] == [later.event_id]
