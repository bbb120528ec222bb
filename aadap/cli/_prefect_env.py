"""Prefect environment defaults for the CLI, applied before Prefect is imported."""

from __future__ import annotations

import os

from aadap.core.config import Settings


def prepare(settings: Settings, *, verbose: bool = False) -> None:
    """Keep the embedded Prefect state under AADAP_HOME and the terminal quiet.

    Nothing is overridden that the user set: a ``PREFECT_API_URL`` (a real
    server) keeps its own ``PREFECT_HOME``; explicit logging settings win.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    if "PREFECT_API_URL" not in os.environ:
        os.environ.setdefault("PREFECT_HOME", str(settings.home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the embedded server's first start (migrations) can exceed Prefect's 20 s on a busy or slow machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "ERROR")
