"""The ``aadap`` command line: each command group is a module-level ``typer.Typer`` of its
module, and each module's top-level commands are a nameless one (``commands``) whose
commands join the main app's."""

from __future__ import annotations

import typer

from aadap.cli import (
    _approvals,
    _check,
    _config,
    _connections,
    _db,
    _inspect,
    _run,
    _serve,
    _server,
)
from aadap.cli._errors import BoundaryGroup

app = typer.Typer(
    name="aadap",
    cls=BoundaryGroup,  # every command's errors become `error [CODE] message` and an exit status
    help="AADAP: AI data-engineering agents run as Prefect flows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# `aadap --help` lists them in this order
app.add_typer(_run.commands)  # run
app.add_typer(_serve.commands)  # serve, submit
app.add_typer(_inspect.commands)  # logs, costs, reconcile
app.add_typer(_check.commands)  # check
app.add_typer(_config.config_app, name="config")
app.add_typer(_db.db_app, name="db")
app.add_typer(_server.server_app, name="server")
app.add_typer(_inspect.tasks_app, name="tasks")
app.add_typer(_approvals.approvals_app, name="approvals")
app.add_typer(_connections.connections_app, name="connections")


def main() -> None:
    app()


__all__ = ["app", "main"]
