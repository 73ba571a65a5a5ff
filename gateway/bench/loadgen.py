"""A load generator for OpenAI-compatible chat endpoints: keep-alive connections, one request
in flight each, for a fixed duration; prints one JSON line of results.

Minimal asyncio + httptools so that the generator is not the bottleneck. Loopback use only.

    python gateway/bench/loadgen.py --url http://127.0.0.1:8090/v1/chat/completions \
        --key hs_... --model demo --connections 16 --duration 10 [--stream]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

import httptools
import msgspec

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]


def build_request(url: str, key: str, model: str, stream: bool) -> bytes:
    """One pre-encoded keep-alive request."""
    parts = urlsplit(url)
    body = msgspec.json.encode(
        {
            "model": model,
            "stream": stream,
            "max_tokens": 16,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Say something deterministic, please."},
            ],
        }
    )
    head = [
        f"POST {parts.path} HTTP/1.1",
        f"host: {parts.netloc}",
        "content-type: application/json",
        f"content-length: {len(body)}",
    ]
    if key:
        head.append(f"authorization: Bearer {key}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Connection(asyncio.Protocol):
    """Sends the request again as soon as the previous answer is complete."""

    def __init__(self, request: bytes, results: dict[str, list[float]], stop_at: float) -> None:
        self.request, self.results, self.stop_at = request, results, stop_at
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.done = asyncio.get_running_loop().create_future()
        self.sent = self.first_byte = 0.0
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        self.sent, self.first_byte = time.perf_counter(), 0.0
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_status(self, _status: bytes) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, _body: bytes) -> None:
        if not self.first_byte:
            self.first_byte = time.perf_counter()

    def on_message_complete(self) -> None:
        now = time.perf_counter()
        if self.status == 200:
            self.results["latency"].append(now - self.sent)
            self.results["ttfb"].append((self.first_byte or now) - self.sent)
        else:
            self.results["errors"].append(float(self.status))
        if now < self.stop_at:
            self._send()
        elif not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.results["errors"].append(-1.0)
            self.done.set_result(None)


async def run(
    url: str, key: str, model: str, stream: bool, connections: int, duration: float, warmup: float
) -> dict[str, float]:
    """Warm up, then measure for `duration` seconds."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = build_request(url, key, model, stream)
    loop = asyncio.get_running_loop()
    if warmup > 0:
        warm: dict[str, list[float]] = {"latency": [], "ttfb": [], "errors": []}
        stop = time.perf_counter() + warmup
        conns = [
            (await loop.create_connection(lambda: Connection(request, warm, stop), host, port))[1]
            for _ in range(connections)
        ]
        await asyncio.gather(*(c.done for c in conns))
        for conn in conns:
            conn.transport.close()  # type: ignore[union-attr]
    results: dict[str, list[float]] = {"latency": [], "ttfb": [], "errors": []}
    started = time.perf_counter()
    stop = started + duration
    conns = [
        (await loop.create_connection(lambda: Connection(request, results, stop), host, port))[1]
        for _ in range(connections)
    ]
    await asyncio.gather(*(c.done for c in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        conn.transport.close()  # type: ignore[union-attr]
    return summarise(results, elapsed)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(results: dict[str, list[float]], elapsed: float) -> dict[str, float]:
    """Requests/s and latency (and time to first byte) percentiles in milliseconds."""
    summary: dict[str, float] = {
        "requests": len(results["latency"]),
        "errors": len(results["errors"]),
        "rps": len(results["latency"]) / elapsed,
    }
    for name in ("latency", "ttfb"):
        for q in (0.5, 0.9, 0.99):
            summary[f"{name}_p{int(q * 100)}_ms"] = _percentile(results[name], q) * 1000
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--model", required=True)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    runner = uvloop.run if uvloop is not None else asyncio.run
    summary = runner(
        run(
            args.url,
            args.key,
            args.model,
            args.stream,
            args.connections,
            args.duration,
            args.warmup,
        )
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
