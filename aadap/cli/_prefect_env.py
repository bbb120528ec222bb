"""Prefect environment defaults for the CLI, applied before Prefect is imported."""

from __future__ import annotations

import os

from aadap.cli._errors import debugging
from aadap.core.config import Settings

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
