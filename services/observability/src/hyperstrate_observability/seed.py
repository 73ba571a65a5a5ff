"""`python -m hyperstrate_observability.seed`: synthetic inference logs for a demo.

Writes `--count` (200) logs spread over the last `--days` (30) days for one organisation,
straight into the observability database through the same batch writer the consumer uses.
Event ids are derived from the organisation and the log's number, so running it again adds
nothing (still 200). The organisation is `--org-id`, or else the first one the audit log
has seen created. The database is `DATABASE_URL`, or else the embedded PostgreSQL that
`just up` runs from `DATA_DIR`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import text

from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed
from hyperstrate_kit.database import KIT_MIGRATIONS, Database
from hyperstrate_kit.settings import SettingsError, load_settings
from hyperstrate_observability.app import MIGRATIONS
from hyperstrate_observability.infrastructure.log_writer import InferenceLogWriter
from hyperstrate_observability.settings import ObservabilitySettings

__all__ = ["embedded_database_url", "main", "seed", "synthetic_logs"]

_NAMESPACE = uuid.UUID("6f1c3f52-53d2-4b8f-9a43-1d0ad3c0b7c1")
_MODELS = (
    ("openai", "gpt-4o-mini", 0.15, 0.60),
    ("openai", "gpt-4o", 2.50, 10.00),
    ("anthropic", "claude-haiku-4-5", 1.00, 5.00),
    ("anthropic", "claude-sonnet-4-5", 3.00, 15.00),
)
_ROUTERS = ("seed-router-support", "seed-router-search")


def embedded_database_url(data_dir: Path) -> str | None:
    """The URL of the embedded PostgreSQL `just up` runs from `data_dir`, if it is running."""
    pid_file = data_dir / "pg" / "cluster" / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    return f"postgresql://postgres@127.0.0.1:{int(lines[3])}/postgres"


def synthetic_logs(
    org_id: str, count: int, days: int, now: datetime
) -> list[InferenceCompleted | InferenceFailed]:
    """Plausible inference events; the same ids for the same organisation every time.

    They fall on the last `days` calendar days (UTC, today included), the period a usage
    report covers by default.
    """
    rng = random.Random(org_id)
    first_day = datetime.combine(now.date() - timedelta(days=days - 1), time.min, tzinfo=UTC)
    step = (now - first_day) / max(count, 1)
    events: list[InferenceCompleted | InferenceFailed] = []
    for index in range(count):
        provider, model, input_price, output_price = rng.choice(_MODELS)
        input_tokens, output_tokens = rng.randrange(50, 3000), rng.randrange(10, 900)
        request_id = str(uuid.uuid5(_NAMESPACE, f"{org_id}/request/{index}"))
        fields: dict[str, Any] = {
            "org_id": org_id,
            "aggregate_id": request_id,
            "request_id": request_id,
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{org_id}/event/{index}")),
            "occurred_at": now - step * (index + rng.random()),
            "router_id": rng.choice(_ROUTERS),
            "target_id": f"seed-target-{model}",
            "provider": provider,
            "model": model,
            "api_key_id": f"seed-key-{rng.randrange(3)}",
            "team_id": rng.choice([None, "seed-team-platform", "seed-team-research"]),
            "stream": rng.random() < 0.4,
            "latency_ms": round(rng.lognormvariate(6.5, 0.5), 1),
            "cache_hit": rng.random() < 0.08,
        }
        if rng.random() < 0.05:
            events.append(
                InferenceFailed(
                    **fields,
                    status_code=rng.choice([429, 500, 503]),
                    error_class="server_error",
                    error_message="synthetic upstream failure",
                )
            )
            continue
        events.append(
            InferenceCompleted(
                **fields,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=round(
                    (input_tokens * input_price + output_tokens * output_price) / 1_000_000, 8
                ),
                time_to_first_token_ms=round(rng.uniform(80, 600), 1) if fields["stream"] else None,
            )
        )
    return events


async def _first_organization(database: Database) -> str | None:
    async with database.sessions() as session:
        found = await session.execute(
            text(
                "SELECT org_id FROM audit_log WHERE type = 'auth.organization.created' "
                "ORDER BY occurred_at LIMIT 1"
            )
        )
        return found.scalar_one_or_none()


async def seed(database: Database, org_id: str, count: int = 200, days: int = 30) -> int:
    """Write the synthetic logs; returns how many were new."""
    events = synthetic_logs(org_id, count, days, datetime.now(UTC))
    async with database.transaction() as session:
        result = await InferenceLogWriter().write(
            session, [(event, msgspec.json.encode(event)) for event in events]
        )
    return len(result.new_logs)


async def _run(settings: ObservabilitySettings, args: argparse.Namespace) -> int:
    url = settings.database_url or embedded_database_url(Path(settings.data_dir))
    if not url:
        print(
            "seed: set DATABASE_URL, or start the stack with `just up` first",
            file=sys.stderr,
        )
        return 2
    database = await Database.open(url, settings.database, migrations=[KIT_MIGRATIONS, *MIGRATIONS])
    try:
        org_id = args.org_id or await _first_organization(database)
        if not org_id:
            print(
                "seed: no organisation known yet; pass --org-id (the auth service's org id)",
                file=sys.stderr,
            )
            return 2
        added = await seed(database, org_id, args.count, args.days)
    finally:
        await database.close()
    print(
        f"seeded inference logs for {org_id}: {added} new, "
        f"{args.count - added} already there ({args.count} in all, over {args.days} days)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m hyperstrate_observability.seed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--org-id", default="", help="the organisation (default: the first)")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    if args.count < 1 or args.days < 1:
        parser.error("--count and --days must be at least 1")
    try:
        settings = load_settings(ObservabilitySettings)
    except SettingsError as exc:
        print(f"seed: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(settings, args))


if __name__ == "__main__":
    sys.exit(main())
