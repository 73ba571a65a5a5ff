"""Benchmark the fake upstream: non-streaming chat completions per second on one core.

Starts ``python -m hyperstrate_providers.fake_upstream`` on 127.0.0.1 pinned to one CPU (the
server is single-threaded anyway), then drives it from this process (pinned to another CPU
when there is one) with a few keep-alive connections, one request in flight per connection,
using a minimal asyncio + httptools client so that the client is not the bottleneck. Sends a
fixed number of requests and stops by itself; loopback only.

Prints requests/s (wall clock), latency percentiles, the server's CPU use over the measured run
(close to 100% means the server, not the client, was the limit) and requests per server
CPU-second, which stays meaningful when other work shares the machine.

    .venv/bin/python libs/providers/bench/fake_upstream_bench.py --requests 200000 --connections 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

import httptools
import msgspec

REQUEST_BODY = msgspec.json.encode(
    {
        "model": "fake-gpt",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say something deterministic, please."},
        ],
        "max_tokens": 64,
    }
)


def build_request(host: str, port: int, script: str | None) -> bytes:
    """One keep-alive HTTP/1.1 request, pre-encoded."""
    lines = [
        "POST /v1/chat/completions HTTP/1.1",
        f"host: {host}:{port}",
        "content-type: application/json",
        "authorization: Bearer bench-key",
        f"content-length: {len(REQUEST_BODY)}",
    ]
    if script:
        lines.append(f"x-fake-script: {script}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + REQUEST_BODY


@dataclass
class Totals:
    """Counters shared by the connections."""

    remaining: int
    completed: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    open_connections: int = 0


class BenchConnection(asyncio.Protocol):
    """Sends a request, waits for the whole response, sends the next one."""

    def __init__(self, request: bytes, totals: Totals) -> None:
        self._request = request
        self._totals = totals
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        self._totals.open_connections -= 1
        if self._totals.open_connections == 0:
            self._totals.done.set()

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_message_complete(self) -> None:
        totals = self._totals
        totals.latencies.append(time.perf_counter() - self._sent_at)
        if self._parser.get_status_code() == 200:
            totals.completed += 1
        else:
            totals.failed += 1
        self._send_next()

    def _send_next(self) -> None:
        assert self._transport is not None
        if self._totals.remaining <= 0:
            self._transport.close()
            return
        self._totals.remaining -= 1
        self._sent_at = time.perf_counter()
        self._transport.write(self._request)


async def drive(
    host: str, port: int, requests: int, connections: int, script: str | None
) -> Totals:
    """Send ``requests`` requests over ``connections`` keep-alive connections."""
    loop = asyncio.get_running_loop()
    totals = Totals(remaining=requests, open_connections=connections)
    request = build_request(host, port, script)
    for _ in range(connections):
        await loop.create_connection(lambda: BenchConnection(request, totals), host, port)
    await totals.done.wait()
    return totals


def run_loop(coroutine: Coroutine[Any, Any, Totals]) -> Totals:
    """Run on uvloop when installed, else on asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(port: int, cpu: int | None) -> subprocess.Popen[str]:
    """Start the fake upstream process and wait for its "listening" line."""
    command = [sys.executable, "-m", "hyperstrate_providers.fake_upstream", "--port", str(port)]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    if "listening" not in line:
        server.kill()
        raise SystemExit(f"the fake upstream did not start: {line!r}")
    return server


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--warmup", type=int, default=5_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--script", default=None, help="x-fake-script header to send")
    args = parser.parse_args()

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = args.server_cpu if args.server_cpu in cpus else None
    client_cpu = args.client_cpu if args.client_cpu in cpus and len(cpus) > 1 else None
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    port = free_port()
    server = start_server(port, server_cpu)
    try:
        run_loop(drive("127.0.0.1", port, args.warmup, args.connections, args.script))
        cpu_before = cpu_seconds(server.pid)
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        totals = run_loop(drive("127.0.0.1", port, args.requests, args.connections, args.script))
        elapsed = time.perf_counter() - started
        server_cpu_share = (cpu_seconds(server.pid) - cpu_before) / elapsed
        client_cpu_share = (time.process_time() - client_cpu_before) / elapsed
    finally:
        server.terminate()
        server.wait(timeout=10)

    latencies = sorted(totals.latencies)
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"requests:        {totals.completed} ok, {totals.failed} failed")
    print(f"connections:     {args.connections} keep-alive, 1 request in flight each")
    print(f"server cpu:      pinned to {server_cpu}, busy {server_cpu_share:.0%} of the run")
    print(f"client cpu:      pinned to {client_cpu}, busy {client_cpu_share:.0%} of the run")
    print(f"elapsed:         {elapsed:.2f} s")
    print(f"throughput:      {totals.completed / elapsed:,.0f} requests/s (wall clock)")
    print(
        f"server capacity: {totals.completed / (server_cpu_share * elapsed):,.0f} requests "
        "per server CPU-second (what one fully busy core serves)"
    )
    print(f"latency:         p50 {quantiles[49] * 1000:.3f} ms, p99 {quantiles[98] * 1000:.3f} ms")


if __name__ == "__main__":
    main()
