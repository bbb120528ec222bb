"""The ``aadap`` command line. Each command group lives in its own module and registers itself."""

from __future__ import annotations

import typer

import aadap.cli._connections as _connections
from aadap.cli import _approvals, _check, _config, _db, _inspect, _run, _serve, _server
from aadap.cli._errors import BoundaryGroup

app = typer.Typer(
    name="aadap",
    cls=BoundaryGroup,  # every command's errors become `error [CODE] message` and an exit status
    help="AADAP: AI data-engineering agents run as Prefect flows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _module in (_config, _db, _run, _serve, _server, _inspect, _approvals, _check):
    _module.register(app)
_connections.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
