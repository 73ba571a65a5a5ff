"""The JOBS work queue on JetStream."""

from __future__ import annotations

import msgspec
from nats.js import JetStreamContext

from hyperstrate_contracts.catalog import JOB_SUBMITTED_SUBJECT, JobToRun
from hyperstrate_kit.telemetry import inject_headers

__all__ = ["JetStreamJobQueue"]


class JetStreamJobQueue:
    """Publishes `JobToRun` to `jobs.inference.submitted` with `Nats-Msg-Id` = job id."""

    def __init__(self, js: JetStreamContext, *, timeout: float = 5.0) -> None:
        self.js = js
        self.timeout = timeout

    async def enqueue(self, job: JobToRun) -> None:
        """Publish and wait for the stream's acknowledgement."""
        await self.js.publish(
            JOB_SUBMITTED_SUBJECT,
            msgspec.json.encode(job),
            headers=inject_headers({"Nats-Msg-Id": job.job_id}),
            timeout=self.timeout,
        )
