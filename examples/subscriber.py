"""An outside subscriber of hyperstrate's `inference.completed` events.

Follows the INFERENCE stream with a durable pull consumer of its own: it survives restarts
(JetStream remembers what was acked), gets every event at least once, and acks each one
only after handling it. Needs nothing from hyperstrate but the event format
(docs/events.md) and `nats-py`:

    pip install nats-py
    python examples/subscriber.py --nats-url nats://127.0.0.1:4222 --durable my-billing

Each event prints as one JSON line: `event_id`, `org_id`, `router_id`, `model`, tokens,
`cost_usd`, `latency_ms`. Replace `handle()` with your own code; keep it idempotent by
`event_id`, since an event can arrive twice (after a crash before the ack, say).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

STREAM = "INFERENCE"
SUBJECT = "inference.completed"


def handle(event: dict[str, Any]) -> None:
    """Your work goes here. This one prints a summary line."""
    summary = {
        key: event.get(key)
        for key in (
            "event_id", "org_id", "router_id", "model", "input_tokens", "output_tokens",
            "cost_usd", "latency_ms", "occurred_at",
        )
    }  # fmt: skip
    print(json.dumps(summary), flush=True)


async def run(nats_url: str, durable: str, max_messages: int, from_now: bool) -> int:
    nc = await nats.connect(nats_url, name=f"subscriber-{durable}", max_reconnect_attempts=-1)
    js = nc.jetstream()
    # Create the durable consumer, or bind to it if it exists (its position is kept).
    await js.add_consumer(
        STREAM,
        ConsumerConfig(
            durable_name=durable,
            filter_subject=SUBJECT,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW if from_now else DeliverPolicy.ALL,
            ack_wait=30,
            max_deliver=5,
        ),
    )
    subscription = await js.pull_subscribe_bind(durable=durable, stream=STREAM)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    handled = 0
    try:
        while not stop.is_set() and (max_messages == 0 or handled < max_messages):
            want = 100 if max_messages == 0 else min(100, max_messages - handled)
            try:
                messages = await subscription.fetch(want, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            for msg in messages:
                try:
                    handle(json.loads(msg.data))
                except Exception as exc:  # not acked: redelivered later, up to max_deliver
                    print(f"failed on {msg.subject}: {exc}", file=sys.stderr)
                    await msg.nak(delay=5)
                    continue
                await msg.ack()
                handled += 1
    finally:
        await nc.drain()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Follow hyperstrate's inference.completed events")
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--durable", default="example-subscriber", help="your consumer's name")
    parser.add_argument("--max", type=int, default=0, help="stop after N events (0: never)")
    parser.add_argument(
        "--from-now", action="store_true", help="a new consumer starts at new events only"
    )
    args = parser.parse_args()
    return asyncio.run(run(args.nats_url, args.durable, args.max, args.from_now))


if __name__ == "__main__":
    sys.exit(main())
