"""Async jobs: submitted over HTTP, run by the worker from the JOBS work queue, called back
with a signed body; a worker crash re-runs an unfinished job and a finished one never again."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sys
import time
from typing import Any

import msgspec
from catalog_support import (
    CallbackReceiver,
    Catalog,
    new_org,
    openai_url,
    register,
    running_catalog,
)
from sqlalchemy import text

from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_catalog.worker import running_worker
from hyperstrate_contracts.catalog import JobToRun
from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, wait_for
from hyperstrate_providers.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "Summarise the weather"}]


def _worker_settings(catalog: Catalog, **overrides: str) -> CatalogSettings:
    return load_settings(CatalogSettings, environ={**catalog.environ, **overrides})


async def _job(catalog: Catalog, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = await catalog.client.get(f"/ai/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _job_in(catalog: Catalog, headers: dict[str, str], job_id: str, *statuses: str) -> Any:
    async def reached() -> dict[str, Any] | None:
        job = await _job(catalog, headers, job_id)
        return job if job["status"] in statuses else None

    return await wait_for(reached, timeout=30, message=f"job {job_id} to be {statuses}")


async def test_job_story_completes_and_calls_back_signed(
    infrastructure: Infrastructure, private_nats: str, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    async with (
        running_catalog(infrastructure, NATS_URL=private_nats) as catalog,
        CallbackReceiver() as receiver,
    ):
        registration = await register(catalog.client, org, openai_url(fake_upstream))
        submitted = await catalog.client.post(
            "/ai/jobs",
            headers=org.headers,
            json={
                "registrationId": registration["id"],
                "messages": MESSAGES,
                "maxTokens": 20,
                "callbackUrl": receiver.url,
            },
        )
        assert submitted.status_code == 202, submitted.text
        accepted = submitted.json()
        job_id, secret = accepted["id"], accepted["callbackSecret"]
        assert accepted["status"] == "queued" and secret.startswith("whsec_")
        queued = await _job(catalog, org.headers, job_id)
        assert queued["status"] == "queued" and queued["result"] is None
        assert "callbackSecret" not in queued and secret not in str(queued)

        async with running_worker(_worker_settings(catalog)):
            done = await _job_in(catalog, org.headers, job_id, "completed")
            await wait_for(lambda: receiver.requests, message="the callback")
            await _job_in(catalog, org.headers, job_id, "completed")

        assert done["attempts"] == 1 and done["error"] is None
        assert done["result"]["content"] and done["usage"]["outputTokens"] == 16
        assert done["costUsd"] == done["result"]["costUsd"] > 0
        assert msgspec.json.decode(fake_upstream.requests[-1].body)["max_tokens"] == 20

        (callback,) = receiver.requests
        assert callback.path == "/hooks/jobs"
        assert callback.headers["x-hyperstrate-job-id"] == job_id
        timestamp, signature = (
            part.split("=", 1)[1] for part in callback.headers["x-hyperstrate-signature"].split(",")
        )
        expected = hmac.new(
            secret.encode(), timestamp.encode() + b"." + callback.body, hashlib.sha256
        ).hexdigest()
        assert hmac.compare_digest(signature, expected)
        assert abs(int(timestamp) - time.time()) < 60
        body = msgspec.json.decode(callback.body)
        assert body["id"] == job_id and body["status"] == "completed"
        assert body["result"]["content"] == done["result"]["content"]

        final = await _job(catalog, org.headers, job_id)
        assert final["callbackStatus"] == "delivered" and final["callbackAttempts"] == 1
        types = [e["type"] for e in await catalog.stored_events(f"job-{job_id}")]
        assert types == [
            "catalog.job.submitted",
            "catalog.job.started",
            "catalog.job.completed",
            "catalog.job.callback_delivered",
        ]
        listed = (await catalog.client.get("/ai/jobs", headers=org.headers)).json()
        assert [job["id"] for job in listed["items"]] == [job_id]


async def test_callbacks_are_retried_with_backoff_until_delivered(
    infrastructure: Infrastructure, private_nats: str, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    async with (
        running_catalog(infrastructure, NATS_URL=private_nats) as catalog,
        CallbackReceiver(statuses=(503, 500)) as receiver,
    ):
        registration = await register(catalog.client, org, openai_url(fake_upstream))
        async with running_worker(_worker_settings(catalog)):
            submitted = await catalog.client.post(
                "/ai/jobs",
                headers=org.headers,
                json={
                    "registrationId": registration["id"],
                    "messages": MESSAGES,
                    "callbackUrl": receiver.url,
                },
            )
            job_id = submitted.json()["id"]

            async def delivered() -> bool:
                job = await _job(catalog, org.headers, job_id)
                return job["callbackStatus"] == "delivered"

            await wait_for(delivered, timeout=30, message="the callback to be delivered")
        job = await _job(catalog, org.headers, job_id)
        assert job["callbackAttempts"] == 3 and len(receiver.requests) == 3
        deliveries = [r.headers["x-hyperstrate-delivery"] for r in receiver.requests]
        assert deliveries == [f"{job_id}:1", f"{job_id}:2", f"{job_id}:3"]


async def test_a_failing_upstream_fails_the_job_with_its_error_class(
    infrastructure: Infrastructure, private_nats: str, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    async with running_catalog(infrastructure, NATS_URL=private_nats) as catalog:
        rejected = await register(
            catalog.client, org, openai_url(fake_upstream), model="fake-gpt;fail=400"
        )
        flaky = await register(
            catalog.client, org, openai_url(fake_upstream), model="fake-gpt;fail=503"
        )
        async with running_worker(_worker_settings(catalog, JOB_MAX_DELIVER="2")):
            ids = []
            for registration in (rejected, flaky):
                submitted = await catalog.client.post(
                    "/ai/jobs",
                    headers=org.headers,
                    json={"registrationId": registration["id"], "messages": MESSAGES},
                )
                ids.append(submitted.json()["id"])
            bad_request = await _job_in(catalog, org.headers, ids[0], "failed")
            unavailable = await _job_in(catalog, org.headers, ids[1], "failed")
        assert bad_request["error"]["errorClass"] == "bad_request"
        assert bad_request["attempts"] == 1  # not retryable: failed at once
        assert unavailable["error"]["errorClass"] == "server_error"
        assert unavailable["attempts"] == 2  # retryable: redelivered up to JOB_MAX_DELIVER


async def test_a_finished_job_is_never_run_again(
    infrastructure: Infrastructure, private_nats: str, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    async with running_catalog(infrastructure, NATS_URL=private_nats) as catalog:
        registration = await register(catalog.client, org, openai_url(fake_upstream))
        async with running_worker(_worker_settings(catalog)) as worker:
            submitted = await catalog.client.post(
                "/ai/jobs",
                headers=org.headers,
                json={"registrationId": registration["id"], "messages": MESSAGES},
            )
            job_id = submitted.json()["id"]
            await _job_in(catalog, org.headers, job_id, "completed")
            calls = len(fake_upstream.requests)
            # A redelivery (e.g. the ack was lost in a crash) finds the job done.
            runner = worker.services["job_runner"]
            await runner.handle(JobToRun(job_id=job_id, org_id=org.org_id), 2)
            assert len(fake_upstream.requests) == calls
        types = [e["type"] for e in await catalog.stored_events(f"job-{job_id}")]
        assert types.count("catalog.job.completed") == 1 and types.count("catalog.job.started") == 1


async def test_a_job_survives_a_worker_crash_and_completes_once(
    infrastructure: Infrastructure, private_nats: str, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    async with running_catalog(infrastructure, NATS_URL=private_nats) as catalog:
        # The upstream takes 1.5 s to answer: long enough to kill the worker mid-call.
        registration = await register(
            catalog.client, org, openai_url(fake_upstream), model="fake-gpt;latency=1500"
        )
        submitted = await catalog.client.post(
            "/ai/jobs",
            headers=org.headers,
            json={"registrationId": registration["id"], "messages": MESSAGES},
        )
        job_id = submitted.json()["id"]
        environ = {**os.environ, **catalog.environ, "JOB_ACK_WAIT_SECONDS": "2"}

        async def start_worker() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hyperstrate_catalog.worker", env=environ
            )

        first = await start_worker()
        try:
            await _job_in(catalog, org.headers, job_id, "running")
            await wait_for(lambda: fake_upstream.requests, message="the upstream call")
            first.kill()  # a crash: no drain, no ack, no release but by the OS
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
        assert (await _job(catalog, org.headers, job_id))["status"] == "running"

        second = await start_worker()
        try:
            done = await _job_in(catalog, org.headers, job_id, "completed", "failed")
        finally:
            second.terminate()  # SIGTERM: drains and exits cleanly
            assert await asyncio.wait_for(second.wait(), 30) == 0
        assert done["status"] == "completed" and done["attempts"] == 2
        types = [e["type"] for e in await catalog.stored_events(f"job-{job_id}")]
        assert types == [
            "catalog.job.submitted",
            "catalog.job.started",
            "catalog.job.started",
            "catalog.job.completed",
        ]
        assert len(fake_upstream.requests) == 2  # the cut-short call, and the one that finished


async def test_a_callback_to_loopback_is_refused_unless_private_targets_are_allowed(
    infrastructure: Infrastructure, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    async with running_catalog(infrastructure, OUTBOUND_ALLOW_PRIVATE="false") as catalog:
        registration = await register(catalog.client, org, "https://llm.example.com/v1")
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest",
            "http://[::1]/hook",
            "ftp://example.com/hook",
            "not a url",
        ):
            response = await catalog.client.post(
                "/ai/jobs",
                headers=org.headers,
                json={
                    "registrationId": registration["id"],
                    "messages": MESSAGES,
                    "callbackUrl": url,
                },
            )
            assert response.status_code == 400, (url, response.text)
            assert "callbackUrl" in response.json()["fields"], response.json()
        loopback_upstream = await catalog.client.post(
            "/ai/registrations",
            headers=org.headers,
            json={"name": "x", "catalogKey": "fake-gpt", "baseUrl": openai_url(fake_upstream)},
        )
        assert loopback_upstream.status_code == 400
        assert "baseUrl" in loopback_upstream.json()["fields"]


async def test_the_sweeper_republishes_a_job_whose_publish_was_lost_without_duplicating_it(
    infrastructure: Infrastructure, private_nats: str, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    async with running_catalog(infrastructure, NATS_URL=private_nats) as catalog:
        registration = await register(catalog.client, org, openai_url(fake_upstream))
        submitted = await catalog.client.post(
            "/ai/jobs",
            headers=org.headers,
            json={"registrationId": registration["id"], "messages": MESSAGES},
        )
        job_id = submitted.json()["id"]

        async def dispatched() -> bool:
            async with catalog.database.sessions() as session:
                at = await session.scalar(
                    text("SELECT dispatched_at FROM job_payloads WHERE job_id = :id"),
                    {"id": job_id},
                )
            return at is not None

        assert await dispatched()
        # As if the process died between the commit and the publish's acknowledgement.
        async with catalog.database.transaction() as session:
            await session.execute(
                text("UPDATE job_payloads SET dispatched_at = NULL WHERE job_id = :id"),
                {"id": job_id},
            )
        await wait_for(dispatched, timeout=15, message="the sweeper to publish the job again")
        nc = await connect_nats(private_nats, "test-jobs")
        try:
            info = await nc.jetstream().stream_info("JOBS")
            assert info.state.messages == 1  # the same Nats-Msg-Id: dropped as a duplicate
        finally:
            await nc.drain()
        async with running_worker(_worker_settings(catalog)):
            await _job_in(catalog, org.headers, job_id, "completed")
        assert len(fake_upstream.requests) == 1
