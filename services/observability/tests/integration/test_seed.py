"""`just seed-inference-logs`: 200 logs over 30 days, idempotent."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from observability_support import database_of, new_org
from sqlalchemy import text

from hyperstrate_observability.infrastructure.audit import AuditEntry, record_audit_entry
from hyperstrate_observability.seed import embedded_database_url
from hyperstrate_observability.settings import ObservabilitySettings


def _seed(settings: ObservabilitySettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DATABASE_NAME": settings.database,
        "LOG_FORMAT": "json",
    }
    return subprocess.run(
        [sys.executable, "-m", "hyperstrate_observability.seed", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_seeding_twice_still_gives_200_logs_over_30_days(
    observability_settings: ObservabilitySettings,
) -> None:
    org = new_org()
    async with database_of(observability_settings) as database:
        async with database.transaction() as session:
            await record_audit_entry(
                session,
                AuditEntry(
                    "ev-org",
                    org,
                    "auth.organization.created",
                    org,
                    None,
                    datetime.now(UTC),
                    {"name": "Org"},
                ),
            )
        first = _seed(observability_settings)  # the organisation comes from the audit log
        assert first.returncode == 0, first.stderr
        assert f"seeded inference logs for {org}: 200 new" in first.stdout
        second = _seed(observability_settings, "--org-id", org)
        assert second.returncode == 0, second.stderr
        assert "0 new, 200 already there" in second.stdout
        async with database.sessions() as session:
            count, days, requests = (
                await session.execute(
                    text(
                        "SELECT count(*), count(DISTINCT occurred_at::date),"
                        " (SELECT sum(requests) FROM usage_daily WHERE org_id = :org)"
                        " FROM inference_logs WHERE org_id = :org"
                    ),
                    {"org": org},
                )
            ).one()
    assert (count, requests) == (200, 200)
    assert days >= 29


def test_seeding_without_a_database_says_what_to_do(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "hyperstrate_observability.seed"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "just up" in done.stderr


def test_the_embedded_database_of_just_up_is_found_from_data_dir(tmp_path: Path) -> None:
    cluster = tmp_path / "pg" / "cluster"
    cluster.mkdir(parents=True)
    assert embedded_database_url(tmp_path) is None
    lines = ["123", str(cluster), "1700000000", "54321", str(cluster), "127.0.0.1", "0", "ready"]
    (cluster / "postmaster.pid").write_text("\n".join(lines) + "\n")
    assert embedded_database_url(tmp_path) == "postgresql://postgres@127.0.0.1:54321/postgres"
