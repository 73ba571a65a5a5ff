"""Container HEALTHCHECK for every hyperstrate image: GET /healthz on the service's port.

Standard library only (the slim base has no curl). The port is PORT when set, otherwise the
`default_port` of the settings struct of the module the container runs (`python -m
hyperstrate_<name>`, found in /proc), so one image serves all six services. Exit 0 when
/healthz answers 200, 1 otherwise.
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import urllib.request
from pathlib import Path

DEFAULT_MODULE = "hyperstrate_gateway"


def _pid_number(path: Path) -> int:
    return int(path.name)


def running_module() -> str:
    """The `-m` module of the service process in this container (PID 1 first)."""
    pids = sorted((p for p in Path("/proc").iterdir() if p.name.isdigit()), key=_pid_number)
    for pid in pids:
        try:
            argv = (pid / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for flag, module in itertools.pairwise(argv):
            if flag == b"-m" and module.startswith(b"hyperstrate_"):
                return module.decode()
    return DEFAULT_MODULE


def default_port(module: str) -> int:
    """The service's default port, read from its settings struct."""
    from hyperstrate_kit.settings import ServiceSettings

    settings = importlib.import_module(f"{module}.settings")
    for value in vars(settings).values():
        is_settings = isinstance(value, type) and issubclass(value, ServiceSettings)
        if is_settings and value is not ServiceSettings:
            return int(value.default_port)
    raise LookupError(f"no ServiceSettings in {module}.settings")


def main() -> int:
    port = int(os.environ.get("PORT") or 0) or default_port(running_module())
    host = os.environ.get("HOST", "")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
