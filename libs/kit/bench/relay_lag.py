"""Benchmark: publish lag of the outbox relay at idle (commit -> message on JetStream).

Starts embedded NATS and PostgreSQL (or uses NATS_URL / DATABASE_URL), runs a relay, then
appends one event at a time with the system idle in between and measures the time from the
append's commit to the message reaching a JetStream subscriber. Loopback only; bounded.

    .venv/bin/python libs/kit/bench/relay_lag.py --samples 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from hyperstrate_contracts import Event, EventRegistry, StreamSpec
from hyperstrate_kit.bus import connect_nats, provision_streams
from hyperstrate_kit.database import KIT_MIGRATIONS, Database
from hyperstrate_kit.embedded import EmbeddedNats, EmbeddedPostgres
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.relay import OutboxRelay


class Ticked(Event, frozen=True, kw_only=True, tag="benchlag.clock.ticked"):
    n: int


async def measure(nats_url: str, database_url: str, samples: int, idle: float) -> list[float]:
    database = await Database.open(
        database_url, "hyperstrate_bench_relay", migrations=[KIT_MIGRATIONS]
    )
    nc = await connect_nats(nats_url, "bench")
    js = nc.jetstream()
    await provision_streams(
        js, [StreamSpec(name="BENCHLAG", subjects=("benchlag.>",), max_age_seconds=600)]
    )
    store = EventStore(database, EventRegistry([Ticked]))
    relay = OutboxRelay(store, js, name="bench")
    relay_task = asyncio.create_task(relay.run())
    arrivals: asyncio.Queue[float] = asyncio.Queue()

    async def on_message(msg: object) -> None:
        arrivals.put_nowait(time.perf_counter())

    subscription = await js.subscribe(
        "benchlag.>", cb=on_message, deliver_policy=None, ordered_consumer=True
    )
    await asyncio.sleep(1.0)  # let the relay take the lead and catch up
    while not arrivals.empty():
        arrivals.get_nowait()
    lags: list[float] = []
    stream = f"clock-{time.time_ns()}"
    for n in range(samples):
        await asyncio.sleep(idle)  # idle: the relay is parked on LISTEN
        await store.append(stream, n, [Ticked(org_id="bench", aggregate_id="clock", n=n)])
        committed = time.perf_counter()
        lags.append((await asyncio.wait_for(arrivals.get(), 5)) - committed)
    await subscription.unsubscribe()
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await nc.drain()
    await database.close()
    return lags


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--idle", type=float, default=0.05, help="seconds idle between events")
    args = parser.parse_args()
    nats_url, database_url = os.environ.get("NATS_URL"), os.environ.get("DATABASE_URL")
    servers: list[EmbeddedNats | EmbeddedPostgres] = []
    root = Path(tempfile.mkdtemp(prefix="hyperstrate-bench-"))
    if not nats_url:
        servers.append(EmbeddedNats(root / "nats"))
        nats_url = servers[-1].start()
    if not database_url:
        servers.append(EmbeddedPostgres(root / "pg"))
        database_url = servers[-1].start()
    try:
        lags = asyncio.run(measure(nats_url, database_url, args.samples, args.idle))
    finally:
        for server in servers:
            server.stop()
    ms = sorted(lag * 1000 for lag in lags)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    print(
        f"relay publish lag at idle over {len(ms)} events: p50 {statistics.median(ms):.2f} ms, "
        f"p95 {p(0.95):.2f} ms, p99 {p(0.99):.2f} ms, max {ms[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
