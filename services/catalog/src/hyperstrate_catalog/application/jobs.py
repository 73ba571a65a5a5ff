"""Async inference jobs: submit (API), run exactly once in effect (worker), call back.

A job is an event-sourced aggregate (`job-<id>`); its request, result and callback target
are payloads kept in the catalog's database, never on the bus. Submitting appends the job and
then puts `JobToRun` on the JOBS work queue (`Nats-Msg-Id` = job id); a sweeper re-publishes
the rare job whose publish failed after the commit. The worker holds a per-job lock while it
runs a job, so a redelivery after a crash re-runs an unfinished job, and a job already
finished is never run again: only its callback, if still owed, is delivered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from hyperstrate_catalog.application import dto
from hyperstrate_catalog.application.common import Caller
from hyperstrate_catalog.application.inference import InferenceService
from hyperstrate_catalog.application.ports import (
    CallbackFailed,
    CallbackSender,
    JobQueue,
    SecretVault,
)
from hyperstrate_catalog.domain.callbacks import (
    SIGNATURE_HEADER,
    new_callback_secret,
    sign_callback,
)
from hyperstrate_catalog.domain.model import (
    TERMINAL_JOB_STATUSES,
    JobNotFound,
    UpstreamFailed,
    new_id,
    stream_id,
)
from hyperstrate_catalog.infrastructure.repository import CatalogRepository, JobRecord
from hyperstrate_contracts.catalog import (
    JobCallbackDelivered,
    JobCallbackFailed,
    JobCompleted,
    JobFailed,
    JobStarted,
    JobSubmitted,
    JobToRun,
)
from hyperstrate_kit.database import Database
from hyperstrate_kit.errors import AppError
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import PageParams

__all__ = ["JobLocks", "JobRunner", "JobService", "job_view"]

log = logging.getLogger(__name__)

#: Takes the per-job lock: yields True when held, False when another worker holds it.
JobLocks = Callable[[str], AbstractAsyncContextManager[bool]]


def _secret_context(job_id: str) -> str:
    return f"job-callback:{job_id}"


def job_view(record: JobRecord) -> dto.JobView:
    """The API view of a job."""
    finished = record.status == "completed"
    result = (
        msgspec.convert(record.result, dto.InferResult)
        if finished and record.result is not None
        else None
    )
    error = (
        dto.JobError(error_class=record.error_class, message=record.error_message or "")
        if record.status == "failed" and record.error_class
        else None
    )
    usage = result.usage if result is not None else None
    return dto.JobView(
        id=record.id,
        org_id=record.org_id,
        registration_id=record.registration_id,
        owner_kind=record.owner_kind,  # type: ignore[arg-type]
        owner_id=record.owner_id,
        status=record.status,  # type: ignore[arg-type]
        attempts=record.attempts,
        callback_url=record.callback_url,
        callback_status=record.callback_status,
        callback_attempts=record.callback_attempts,
        usage=usage,
        cost_usd=record.cost_usd,
        latency_ms=record.latency_ms,
        error=error,
        result=result,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


class JobService:
    """Submitting and reading jobs (the API side)."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        repository: CatalogRepository,
        inference: InferenceService,
        vault: SecretVault,
        queue: JobQueue,
    ) -> None:
        self.database = database
        self.store = store
        self.repo = repository
        self.inference = inference
        self.vault = vault
        self.queue = queue

    async def submit(self, caller: Caller, data: dto.JobSubmit) -> dto.JobAccepted:
        """Accept a job; it runs on a worker. The callback secret is returned only here."""
        target = await self.inference.registrations.target(caller.org_id, data.registration_id)
        request = self.inference.build_request(
            target,
            data.messages,
            max_tokens=data.max_tokens,
            temperature=data.temperature,
            parameters=data.parameters,
        )
        job_id = new_id("job")
        secret = new_callback_secret() if data.callback_url else None
        async with self.database.transaction() as session:
            await self.store.append(
                stream_id("job", job_id),
                0,
                [
                    JobSubmitted(
                        org_id=caller.org_id,
                        aggregate_id=job_id,
                        registration_id=target.registration.id,
                        has_callback=data.callback_url is not None,
                        submitted_by=caller.actor,
                        owner=caller.owner,
                    )
                ],
                session=session,
            )
            await self.repo.store_job_payload(
                session,
                job_id,
                caller.org_id,
                _stored_request(request.raw, caller),
                data.callback_url,
                self.vault.seal(secret, context=_secret_context(job_id)) if secret else None,
            )
        await self._dispatch(job_id, caller.org_id)
        return dto.JobAccepted(id=job_id, status="queued", callback_secret=secret)

    async def _dispatch(self, job_id: str, org_id: str) -> bool:
        try:
            await self.queue.enqueue(JobToRun(job_id=job_id, org_id=org_id))
        except Exception as exc:  # the sweeper publishes it later
            log.warning("job %s not yet on the work queue: %s", job_id, exc)
            return False
        async with self.database.transaction() as session:
            await self.repo.mark_dispatched(session, job_id, datetime.now(UTC))
        return True

    async def dispatch_pending(self, older_than: float = 2.0) -> int:
        """Publish jobs whose publish failed after their commit; returns how many went."""
        before = datetime.now(UTC) - timedelta(seconds=older_than)
        async with self.database.sessions() as session:
            pending = await self.repo.undispatched_jobs(session, before)
        sent = 0
        for job_id, org_id in pending:
            sent += await self._dispatch(job_id, org_id)
        return sent

    async def sweep_forever(self, interval: float) -> None:
        """Run `dispatch_pending` every `interval` seconds (a background task of the API)."""
        failing = False  # one warning per outage, not one per sweep
        while True:
            await asyncio.sleep(interval)
            try:
                await self.dispatch_pending()
            except Exception as exc:
                if not failing:
                    log.warning("job dispatch sweep failed: %s", exc)
                failing = True
            else:
                if failing:
                    log.info("job dispatch sweep works again")
                failing = False

    async def get(self, caller: Caller, job_id: str) -> dto.JobView:
        """One job the caller may see (its own; any of the org for an admin session), with
        its result once done; another's is not found."""
        async with self.database.sessions() as session:
            record = await self.repo.job(session, caller.org_id, job_id, caller.visible_owner)
        if record is None:
            raise JobNotFound()
        return job_view(record)

    async def list_page(
        self, caller: Caller, page: PageParams, status: str | None = None
    ) -> tuple[list[dto.JobView], int]:
        """The jobs the caller may see, newest first."""
        async with self.database.sessions() as session:
            records, total = await self.repo.jobs_of(
                session, caller.org_id, page, status, caller.visible_owner
            )
        return [job_view(record) for record in records], total


def _stored_request(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
    # The caller travels with the request, so the worker reports the inference as theirs.
    return {
        "request": request,
        "caller": {
            "user_id": caller.user_id,
            "api_key_id": caller.api_key_id,
            "team_id": caller.team_id,
        },
    }


class JobRunner:
    """Runs jobs from the work queue (the worker side)."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        repository: CatalogRepository,
        inference: InferenceService,
        vault: SecretVault,
        callbacks: CallbackSender,
        locks: JobLocks,
        *,
        max_deliver: int,
        callback_max_attempts: int = 5,
        callback_backoff: tuple[float, ...] = (1.0, 4.0, 15.0, 60.0),
    ) -> None:
        self.database = database
        self.store = store
        self.repo = repository
        self.inference = inference
        self.vault = vault
        self.callbacks = callbacks
        self.locks = locks
        self.max_deliver = max_deliver
        self.callback_max_attempts = callback_max_attempts
        self.callback_backoff = callback_backoff or (1.0,)

    async def handle(self, job: JobToRun, delivery: int) -> None:
        """Run one delivery of a job message. Returns to ack; raises to redeliver later."""
        async with self.locks(job.job_id) as held:
            if not held:
                # Another worker is running this job right now and will finish it.
                log.info("job %s is being run elsewhere; dropping a duplicate", job.job_id)
                return
            record = await self._load(job)
            if record is None:
                log.error("job %s of org %s does not exist; dropping it", job.job_id, job.org_id)
                return
            if record.status not in TERMINAL_JOB_STATUSES:
                record = await self._run(record, delivery)
            if record.has_callback and record.callback_status == "pending":
                await self._call_back(record)

    async def _load(self, job: JobToRun) -> JobRecord | None:
        async with self.database.sessions() as session:
            return await self.repo.job(session, job.org_id, job.job_id)

    async def _run(self, record: JobRecord, delivery: int) -> JobRecord:
        job_stream = stream_id("job", record.id)
        started = await self.store.append(
            job_stream,
            record.version,
            [JobStarted(org_id=record.org_id, aggregate_id=record.id, attempt=record.attempts + 1)],
        )
        version = started[-1].version
        stored = record.request
        caller = Caller(org_id=record.org_id, **(stored.get("caller") or {}))
        try:
            target = await self.inference.registrations.target(
                record.org_id, record.registration_id
            )
            request = self.inference.build_request(
                target, stored["request"]["messages"], parameters=stored["request"]
            )
        except AppError as exc:  # the registration went away, or the request no longer fits
            await self._fail(record, version, "invalid", exc.message)
            return await self._reload(record)
        try:
            outcome = await self.inference.run(caller, target, request, request_id=record.id)
        except UpstreamFailed as exc:
            if exc.retryable and delivery < self.max_deliver:
                raise  # redelivered later with backoff; the job stays running meanwhile
            await self._fail(record, version, exc.error_class, exc.error_message)
            return await self._reload(record)
        async with self.database.transaction() as session:
            await self.store.append(
                job_stream,
                version,
                [
                    JobCompleted(
                        org_id=record.org_id,
                        aggregate_id=record.id,
                        input_tokens=outcome.usage.input_tokens,
                        output_tokens=outcome.usage.output_tokens,
                        cached_input_tokens=outcome.usage.cached_input_tokens,
                        cost_usd=float(outcome.cost),
                        latency_ms=outcome.latency_ms,
                    )
                ],
                session=session,
            )
            await self.repo.store_job_result(
                session, record.id, msgspec.to_builtins(outcome.result)
            )
        return await self._reload(record)

    async def _fail(self, record: JobRecord, version: int, error_class: str, message: str) -> None:
        failed = JobFailed(
            org_id=record.org_id,
            aggregate_id=record.id,
            error_class=error_class,
            error_message=message,
        )
        await self.store.append(stream_id("job", record.id), version, [failed])

    async def _reload(self, record: JobRecord) -> JobRecord:
        reloaded = await self._load(JobToRun(job_id=record.id, org_id=record.org_id))
        assert reloaded is not None
        return reloaded

    async def _call_back(self, record: JobRecord) -> None:
        assert record.callback_url is not None
        secret = (
            self.vault.open(record.callback_secret_ciphertext, context=_secret_context(record.id))
            if record.callback_secret_ciphertext
            else ""
        )
        body = msgspec.json.encode(job_view(record))
        attempts, last_error, last_status = 0, "", None
        delivered_status: int | None = None
        for attempt in range(1, self.callback_max_attempts + 1):
            attempts = attempt
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "hyperstrate-callbacks/1",
                "X-Hyperstrate-Job-Id": record.id,
                "X-Hyperstrate-Delivery": f"{record.id}:{attempt}",
                SIGNATURE_HEADER: sign_callback(secret, timestamp, body),
            }
            try:
                delivered_status = await self.callbacks.post(record.callback_url, body, headers)
                break
            except CallbackFailed as exc:
                last_error, last_status = str(exc), exc.status_code
                log.warning("callback of job %s failed (attempt %d): %s", record.id, attempt, exc)
                if not exc.retryable or attempt == self.callback_max_attempts:
                    break
                delay = self.callback_backoff[min(attempt - 1, len(self.callback_backoff) - 1)]
                await asyncio.sleep(delay)
        event: Any
        if delivered_status is not None:
            event = JobCallbackDelivered(
                org_id=record.org_id,
                aggregate_id=record.id,
                status_code=delivered_status,
                attempts=attempts,
            )
        else:
            event = JobCallbackFailed(
                org_id=record.org_id,
                aggregate_id=record.id,
                attempts=attempts,
                error=last_error[:500],
                status_code=last_status,
            )
        await self.store.append(stream_id("job", record.id), record.version, [event])
