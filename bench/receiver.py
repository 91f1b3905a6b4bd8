"""A webhook receiver for the delivery benchmarks: the Python receiver fallback.

    .venv/bin/python bench/receiver.py --port 9100 --log /tmp/arrivals.tsv

It answers ``204 No Content`` to every POST (any path) as soon as the body is read, with
keep-alive on, and logs one line per request: ``<time.time() at arrival>\\t<webhook-id header>``
(``-`` when the header is missing). Lines are buffered in memory, written and flushed every
0.5 s and once more at SIGTERM or SIGINT, so the log costs no syscall per request.

This is the fallback receiver, written in Python on aiohttp's server and the default asyncio
loop: on a small machine it takes a core of its own and can be what limits a benchmark. The
benchmarks use nginx (bench/nginx.py, same log format) and fall back to this script only with
``--receiver python`` or when nginx cannot be installed or started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TextIO

from aiohttp import web

FLUSH_EVERY_S: Final = 0.5


class ArrivalLog:
    """Arrival lines kept in memory and written out in batches."""

    def __init__(self, sink: TextIO) -> None:
        self.sink = sink
        self.pending: list[str] = []

    def note(self, arrived_at: float, webhook_id: str) -> None:
        self.pending.append(f"{arrived_at:.6f}\t{webhook_id}\n")

    def flush(self) -> None:
        if self.pending:
            lines, self.pending = self.pending, []
            self.sink.write("".join(lines))
        self.sink.flush()

    async def flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            self.flush()


def make_app(log: ArrivalLog) -> web.Application:
    async def receive(request: web.Request) -> web.StreamResponse:
        arrived_at = time.time()
        await request.read()  # a real receiver reads the body; it is in the buffer already
        log.note(arrived_at, request.headers.get("webhook-id", "-"))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    return app


async def serve(host: str, port: int, log_path: Path) -> None:
    with log_path.open("a", encoding="utf-8") as sink:
        log = ArrivalLog(sink)
        runner = web.AppRunner(make_app(log), access_log=None, keepalive_timeout=75.0)
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        flusher = asyncio.create_task(log.flush_periodically())
        try:
            await web.TCPSite(runner, host, port, backlog=1024).start()
            print(f"receiver listening on http://{host}:{port}/ logging to {log_path}", flush=True)
            await stop.wait()
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            log.flush()  # first: what arrived is on disk even if the shutdown is slow
            await runner.cleanup()
            log.flush()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True, help="arrival log (appended to)")
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (loopback)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.log))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
