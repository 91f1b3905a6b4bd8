"""``hookwire listen``: a receiver for trying hookwire out. It verifies each request's
Standard Webhooks signature with the webhook's secret, prints what arrived, and answers
204 (401 when the signature does not verify), as a consumer's endpoint should."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Annotated

import orjson
import typer
from aiohttp import web

from hookwire.commands.common import out
from hookwire.errors import HookwireError, SignatureInvalid
from hookwire.signing.keys import STANDARD, secret_problem
from hookwire.signing.registry import get_scheme


def application(secret: str) -> web.Application:
    scheme = get_scheme(STANDARD)

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            scheme.verify(request.headers, body, [secret], int(time.time()))
        except SignatureInvalid as exc:
            out.print(f"[red]refused[/] {request.path}: {exc.detail}", highlight=False)
            return web.Response(status=401, text=exc.detail)
        event = orjson.loads(body)
        kind = event.get("type") or event.get("event")
        data = event.get("data", event.get("payload"))
        out.print(f"[green]verified[/] {kind} {request.headers.get('webhook-id')} "
                  f"{orjson.dumps(data).decode()}", highlight=False, soft_wrap=True)  # fmt: skip
        return web.Response(status=204)

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", receive)
    return app


async def _serve(secret: str, host: str, port: int) -> None:
    runner = web.AppRunner(application(secret), access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, host, port).start()
        out.print(f"listening on http://{host}:{port}/ (Ctrl-C to stop)", highlight=False)
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()


def listen(
    secret: Annotated[str, typer.Option(help="the webhook's whsec_ secret (create answered it)")],
    port: Annotated[int, typer.Option(help="port to listen on")] = 9000,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """Receive webhooks locally: verify their signature, print them (for trying hookwire)."""
    problem = secret_problem(STANDARD, secret, inbound=False)
    if problem:
        raise typer.BadParameter(problem, param_hint="--secret")
    try:
        asyncio.run(_serve(secret, host, port))
    except OSError as exc:
        raise HookwireError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
