"""Prefect environment defaults for the CLI, applied before Prefect is imported."""

from __future__ import annotations

import asyncio
import os

from aadap.cli._errors import debugging
from aadap.core.config import Settings
from aadap.core.exceptions import (
    InvalidConfigurationError,
    MissingConfigurationError,
    PrefectUnavailableError,
)

_CONSOLE_HANDLER = "aadap.cli._console.TracebackFreeConsoleHandler"

_EMBEDDED_SERVER = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "50",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "2",
}


def prepare(settings: Settings, *, verbose: bool = False) -> None:
    """Keep the embedded Prefect state under AADAP_HOME and the terminal quiet.

    Nothing is overridden that the user set: a ``PREFECT_API_URL`` (a real
    server) keeps its own ``PREFECT_HOME``; explicit logging settings win.
    Without one, the local server ``aadap run`` keeps in the background
    (``aadap.cli._server``) is used if it runs (:func:`start_local_server` starts it).
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    if "PREFECT_API_URL" not in os.environ:
        os.environ.setdefault("PREFECT_HOME", str(settings.home / "prefect"))
        # The embedded server keeps its state in SQLite, which has one writer at a time.
        # Its task-run recorder writes every task-run event in a transaction of its own
        # (batch size 1), and those writes collide with the flow's own API calls: the
        # server answers 503 "database is locked" and the client backs off 2 s or more,
        # several times per lifecycle (15 s per lifecycle instead of 1 s, measured by
        # benchmarks/lifecycle.py). Recording task runs in batches keeps every task run
        # and removes the collisions.
        for name, value in _EMBEDDED_SERVER.items():
            os.environ.setdefault(name, value)
        if settings.prefect_server == "background":
            _use_local_server(settings, start=False)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the embedded server's first start (migrations) can exceed Prefect's 20 s on a busy or slow machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if not verbose and not debugging():
        # a failed run's traceback goes to Prefect's run log and task_logs, not the terminal
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_CLASS", _CONSOLE_HANDLER)
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "ERROR")


def start_local_server(settings: Settings) -> None:
    """Start the local Prefect server (or find it) and point ``PREFECT_API_URL`` at it,
    unless the user set ``PREFECT_API_URL`` or chose ``AADAP_PREFECT_SERVER=ephemeral``.
    Call it before Prefect is first imported: Prefect reads its settings then."""
    if "PREFECT_API_URL" not in os.environ and settings.prefect_server == "background":
        _use_local_server(settings, start=True)


def _use_local_server(settings: Settings, *, start: bool) -> None:
    from aadap.cli import _server
    from aadap.cli._common import err

    home = _server.home_of(settings)
    if start:
        server: _server.Server | None = _server.ensure(
            home, lambda line: err.print(line, highlight=False, markup=False)
        )
    else:
        server = _server.running(home)
    if server is not None:
        os.environ["PREFECT_API_URL"] = server.url


_HEALTH_TIMEOUT = 15.0


async def reachable_api(*, required: bool) -> None:
    """The configured Prefect API answers, or raise naming ``PREFECT_API_URL``.

    ``required``: a server must be configured (``aadap submit``: the embedded one would live
    only as long as the command); otherwise no URL means the embedded server.
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    if not api and not required:
        return
    if not api:
        raise MissingConfigurationError(
            "PREFECT_API_URL is not set; `aadap submit` sends the run to a Prefect server that "
            "`aadap serve` (or a worker) serves: start one (`prefect server start`), then set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api; or run in the foreground with `aadap run`",
            details={"variable": "PREFECT_API_URL"},
        )
    if not api.startswith(("http://", "https://")):
        raise InvalidConfigurationError(
            f"PREFECT_API_URL={api!r} is not an HTTP URL; allowed: http(s)://HOST:PORT/api, "
            "e.g. http://127.0.0.1:4200/api",
            details={"variable": "PREFECT_API_URL"},
        )
    try:
        async with asyncio.timeout(_HEALTH_TIMEOUT), get_client() as client:
            failure = await client.api_healthcheck()
    except TimeoutError:
        failure = TimeoutError(f"no answer within {_HEALTH_TIMEOUT:.0f} s")
    if failure is not None:
        raise PrefectUnavailableError(
            f"no Prefect API answered at PREFECT_API_URL={api!r}: "
            f"{type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}; "
            "start it (`prefect server start`) or correct the URL",
            details={"variable": "PREFECT_API_URL"},
        )
