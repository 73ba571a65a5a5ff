"""``python -m hyperstrate_providers.fake_upstream --host 127.0.0.1 --port 8400``.

Serves until SIGINT or SIGTERM, on uvloop when it is installed. Prints one line,
``fake upstream listening on http://HOST:PORT``, once it accepts connections (``--port 0``
picks a free port; read it from that line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from hyperstrate_providers.fake_upstream.server import FakeUpstream


async def _serve(host: str, port: int) -> None:
    upstream = FakeUpstream()
    base_url = await upstream.start(host, port)
    print(f"fake upstream listening on {base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        await stop.wait()
    finally:
        await upstream.close()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic/Gemini upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument("--no-uvloop", action="store_true", help="use the default event loop")
    args = parser.parse_args(argv)
    runner = asyncio.run
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            runner = uvloop.run
    runner(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
