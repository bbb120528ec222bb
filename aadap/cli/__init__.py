"""The ``aadap`` command line: each command group is a module-level ``typer.Typer`` of its
module, and each module's top-level commands are a nameless one (``commands``) whose
commands join the main app's."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys


def _leave_without_teardown() -> None:
    """Exit now, once the command and every other exit handler have run (``main`` only).

    What is left then is the interpreter's teardown: modules cleared one by one and a full
    garbage collection over Prefect's, SQLAlchemy's and pydantic's objects. It took
    0.55-0.6 s after every ``aadap run`` (a sixth of its 3.5 s, measured in
    ``benchmarks/startup.py``) and does nothing a user can observe: the streams are flushed
    here, files and logs were closed by the handlers that ran before this one."""
    if not _status:
        return  # imported (tests, embedding), not run as the command: leave Python alone
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`aadap ... | head`) or stream: nothing more can reach it
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(_status[-1])


_status: list[int] = []
# Registered before anything else here is imported, so it runs after every other exit
# handler (they run last registered, first run): logging's shutdown, filelock's, Prefect's.
atexit.register(_leave_without_teardown)

import typer  # noqa: E402

from aadap.cli import (  # noqa: E402
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
from aadap.cli._errors import BoundaryGroup  # noqa: E402

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
    """The ``aadap`` console script and ``python -m aadap``: the command, then a quick exit
    (:func:`_leave_without_teardown`) with its status."""
    try:
        app()
    except SystemExit as exc:
        _status.append(_exit_status(exc.code))
        raise
    _status.append(0)


def _exit_status(code: object) -> int:
    """What Python makes of ``sys.exit(code)``: None is 0, an int itself, anything else 1
    (Python prints it to stderr first, as it does here before the handler runs)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


__all__ = ["app", "main"]
