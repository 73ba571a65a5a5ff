"""`just bench`: the fake upstream called directly vs through the gateway (auth + the default
pipeline + the NATS hop to the router), non-streaming and streaming, at 1, 16 and 64
connections, each for a fixed duration.

On a machine with two or more cores the gateway stack (gateway, router, NATS) is pinned to
core 0 and the fake upstream, the load generator and this driver to core 1, so the figures
compare across gateways. Point `--base-url` (and `--key`, `--model`) at any OpenAI-compatible
gateway to measure it the same way. Loopback only; every run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import msgspec

from hyperstrate_contracts import STREAMS, Event
from hyperstrate_contracts.auth import ApiKeyCreated, UserCreated
from hyperstrate_contracts.budgets import BUDGET_SPEND_SUBJECT, BudgetSpend, BudgetSpendRequest
from hyperstrate_contracts.catalog import (
    CREDENTIALS_SUBJECT,
    REGISTRATIONS_SUBJECT,
    Credentials,
    CredentialsRequest,
    RegistrationInfo,
    RegistrationList,
    RegistrationsRequest,
)
from hyperstrate_contracts.router import RouterCreated, RouterTargetAdded
from hyperstrate_kit.bus import connect_nats, provision_streams, serve
from hyperstrate_kit.embedded import EmbeddedNats, free_port
from hyperstrate_kit.security import generate_key

HERE = Path(__file__).parent
STACK_CORE, CLIENT_CORE = 0, 1


def _pin(pid: int, core: int) -> None:
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(pid, {core})


def _spawn(args: list[str], env: dict[str, str], core: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _pin(process.pid, core)
    return process


async def _seed(nats_url: str, upstream_url: str) -> tuple[str, str, list[object]]:
    """A key, a router on the fake upstream, and a stand-in for the catalog's credentials."""
    nc = await connect_nats(nats_url, "bench")
    js = nc.jetstream()
    await provision_streams(js, STREAMS)
    org, user, key_id, router_id = (
        f"{p}_{uuid.uuid4().hex[:8]}" for p in ("org", "usr", "key", "rtr")
    )
    key = generate_key("hs_")
    registration = RegistrationInfo(
        id="reg_bench",
        org_id=org,
        name="fake-gpt",
        catalog_key="fake-gpt",
        provider="openai",
        model="fake-gpt",
        base_url=f"{upstream_url}/v1",
        input_per_million=1.0,
        output_per_million=2.0,
    )
    events: list[Event] = [
        UserCreated(org_id=org, aggregate_id=user, email="bench@x.example", name="B", role="admin"),
        ApiKeyCreated(
            org_id=org,
            aggregate_id=key_id,
            name="bench",
            prefix=key.prefix,
            key_hash=key.hash,
            user_id=user,
            role="admin",
        ),
        RouterCreated(org_id=org, aggregate_id=router_id, name="bench"),
        RouterTargetAdded(
            org_id=org, aggregate_id=router_id, target_id="tgt", registration_id="reg_bench"
        ),
    ]
    for event in events:
        await js.publish(
            event.type, msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
        )

    async def credentials(_: CredentialsRequest) -> Credentials:
        return Credentials(
            registration_id="reg_bench",
            org_id=org,
            provider="openai",
            model="fake-gpt",
            base_url=f"{upstream_url}/v1",
            api_key="sk-bench",
        )

    async def registrations(_: RegistrationsRequest) -> RegistrationList:
        return RegistrationList(items=[registration])

    async def nothing_spent(_: BudgetSpendRequest) -> BudgetSpend:
        return BudgetSpend(items=[])

    subscriptions = [
        await serve(nc, CREDENTIALS_SUBJECT, CredentialsRequest, credentials),
        await serve(nc, REGISTRATIONS_SUBJECT, RegistrationsRequest, registrations),
        # Observability's record of spend: without an answer the router's budget ledger
        # waits BUDGET_RESTORE_TIMEOUT_SECS before it serves, past the bench's warm-up.
        await serve(nc, BUDGET_SPEND_SUBJECT, BudgetSpendRequest, nothing_spent),
    ]
    return key.key, "bench", [nc, *subscriptions]


def _loadgen(
    url: str, key: str, model: str, stream: bool, connections: int, duration: float
) -> dict[str, float]:
    args = [
        str(HERE / "loadgen.py"),
        "--url",
        url,
        "--key",
        key,
        "--model",
        model,
        "--connections",
        str(connections),
        "--duration",
        str(duration),
    ]
    if stream:
        args.append("--stream")
    process = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE)
    _pin(process.pid, CLIENT_CORE)
    output, _ = process.communicate(timeout=duration + 60)
    return dict(json.loads(output))


async def _wait_ok(url: str, key: str, model: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                response = await client.post(
                    url,
                    headers={"authorization": f"Bearer {key}"} if key else {},
                    json={"model": model, "messages": [{"role": "user", "content": "warm up"}]},
                )
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never answered 200 (last: {last})")


def _median_run(runs: list[dict[str, float]], metric: str) -> dict[str, float]:
    """The run whose p50 is the median of the runs (a whole run, so its figures agree)."""
    ordered = sorted(runs, key=lambda run: run[f"{metric}_p50_ms"])
    return ordered[(len(ordered) - 1) // 2]


def _table(rows: list[dict[str, object]]) -> str:
    head = (
        "| mode | conns | direct rps | gateway rps | direct p50/p90/p99 ms "
        "| gateway p50/p90/p99 ms | added p50 ms | added p99 ms | errors |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        d, g, metric = r["direct"], r["gateway"], r["metric"]
        assert isinstance(d, dict) and isinstance(g, dict)
        p50, p90, p99 = f"{metric}_p50_ms", f"{metric}_p90_ms", f"{metric}_p99_ms"
        lines.append(
            f"| {r['mode']} | {r['connections']} | {d['rps']:.0f} | {g['rps']:.0f} "
            f"| {d[p50]:.2f}/{d[p90]:.2f}/{d[p99]:.2f} | {g[p50]:.2f}/{g[p90]:.2f}/{g[p99]:.2f} "
            f"| {g[p50] - d[p50]:.2f} | {g[p99] - d[p99]:.2f} | {int(g['errors'])} |"
        )
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per cell; the one with the median p50 is reported (steadier on shared hosts)",
    )
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument(
        "--base-url", default="", help="an OpenAI-compatible gateway to measure instead"
    )
    parser.add_argument("--key", default="")
    parser.add_argument("--model", default="")
    parser.add_argument("--output", default=".data/bench/inference-bench.md")
    parser.add_argument("--modes", default="non-stream,stream", help="non-stream, stream, or both")
    args = parser.parse_args()
    _pin(os.getpid(), CLIENT_CORE)
    processes: list[subprocess.Popen[bytes]] = []
    nats_server: EmbeddedNats | None = None
    handles: list[object] = []
    upstream_port = free_port()
    processes.append(
        _spawn(
            ["-m", "hyperstrate_providers.fake_upstream", "--port", str(upstream_port)],
            {},
            CLIENT_CORE,
        )
    )
    upstream = f"http://127.0.0.1:{upstream_port}"
    try:
        if args.base_url:
            gateway_url, key, model = args.base_url.rstrip("/"), args.key, args.model
        else:
            nats_server = EmbeddedNats(Path(tempfile.mkdtemp(prefix="hyperstrate-bench-")) / "nats")
            nats_url = nats_server.start()
            assert nats_server._process is not None
            _pin(nats_server._process.pid, STACK_CORE)
            key, model, handles = await _seed(nats_url, upstream)
            gateway_port = free_port()
            env = {
                "NATS_URL": nats_url,
                "JWT_SECRET": "bench-secret-bench-secret-bench-secret",
                "HOST": "127.0.0.1",
                "DATA_DIR": tempfile.mkdtemp(prefix="hyperstrate-bench-"),
            }
            processes.append(
                _spawn(
                    ["-m", "hyperstrate_router.worker"],
                    {**env, "PORT": str(free_port())},
                    STACK_CORE,
                )
            )
            processes.append(
                _spawn(
                    ["-m", "hyperstrate_gateway"], {**env, "PORT": str(gateway_port)}, STACK_CORE
                )
            )
            gateway_url = f"http://127.0.0.1:{gateway_port}/v1"
            pids = ", ".join(f"{p.args[2]}={p.pid}" for p in processes)  # type: ignore[index]
            print(f"stack: nats={nats_server._process.pid}, {pids}", flush=True)
        await _wait_ok(f"{upstream}/v1/chat/completions", "", "fake-gpt")
        await _wait_ok(f"{gateway_url}/chat/completions", key, model)
        rows: list[dict[str, object]] = []
        for stream in [mode == "stream" for mode in args.modes.split(",")]:
            for connections in (int(c) for c in args.connections.split(",")):
                metric = "ttfb" if stream else "latency"
                direct_runs, gateway_runs = [], []
                for _ in range(args.repeat):  # alternated, so a noisy spell hits both
                    direct_runs.append(
                        _loadgen(
                            f"{upstream}/v1/chat/completions",
                            "",
                            "fake-gpt",
                            stream,
                            connections,
                            args.duration,
                        )
                    )
                    gateway_runs.append(
                        _loadgen(
                            f"{gateway_url}/chat/completions",
                            key,
                            model,
                            stream,
                            connections,
                            args.duration,
                        )
                    )
                direct = _median_run(direct_runs, metric)
                through = _median_run(gateway_runs, metric)
                rows.append(
                    {
                        "mode": "stream (TTFB)" if stream else "non-stream",
                        "connections": connections,
                        "direct": direct,
                        "gateway": through,
                        "metric": metric,
                    }
                )
                print(_table(rows[-1:]).splitlines()[-1], flush=True)
        table = _table(rows)
        cores = (
            "gateway+router+NATS pinned to core 0; upstream+loadgen on core 1"
            if (os.cpu_count() or 1) >= 2
            else "one core"
        )
        runs = f"median of {args.repeat} runs of " if args.repeat > 1 else ""
        report = (
            f"# Inference benchmark\n\n{cores}; {runs}{args.duration:.0f} s per cell.\n\n{table}\n"
        )
        _write(Path(args.output), report)
        print("\n" + report + f"\nwritten to {args.output}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(45)  # graceful: in-flight work, event flush, NATS drain
            except subprocess.TimeoutExpired:
                process.kill()
        if handles:
            await handles[0].drain()  # type: ignore[attr-defined]
        if nats_server is not None:
            nats_server.stop()


if __name__ == "__main__":
    asyncio.run(main())
