"""The ``hookwire`` command: the entry point that reads the settings once and passes them down.

Every flag that stands for a setting names its environment variable in ``--help``; flags win
over the environment. The commands themselves live in :mod:`hookwire.commands`.
"""

from __future__ import annotations

import typer

from hookwire.commands import admin, deliveries, listen, server, webhooks
from hookwire.commands.common import err
from hookwire.errors import HookwireError, ValidationFailed

app = typer.Typer(
    name="hookwire",
    help="Webhook infrastructure: typed, signed, retried events out; verified webhooks in.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(server.serve)
app.command()(server.api)
app.command()(server.worker)
app.command()(admin.migrate)
app.command()(admin.token)
app.command()(admin.openapi)
app.command()(admin.doctor)
app.command("publish")(admin.publish_command)
app.command("purge")(admin.purge_command)
app.command()(deliveries.replay)
app.command()(deliveries.recover)
app.command()(listen.listen)
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(deliveries.app, name="deliveries")


def main() -> None:
    try:
        app()
    except HookwireError as exc:
        err.print(f"[red]error:[/] {exc.detail}", markup=True, highlight=False)
        if isinstance(exc, ValidationFailed):
            for problem in exc.errors:
                err.print(f"  {problem.path or '/'}: {problem.message}", markup=False)
        raise SystemExit(2) from exc
