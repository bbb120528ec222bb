"""``aadap.cli._prefect_env.prepare``: the embedded Prefect server's settings that the CLI
applies before Prefect starts, and that it never overrides what the user set."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import Settings as PrefectSettings

from aadap.cli._prefect_env import prepare
from aadap.core.config import load_settings

RECORDER = "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No PREFECT_/AADAP_ variables; what ``prepare`` sets (with ``os.environ.setdefault``,
    unseen by monkeypatch) is removed afterwards so it cannot leak into other tests."""
    for name in list(os.environ):
        if name.startswith(("PREFECT_", "AADAP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AADAP_HOME", str(tmp_path / "home"))
    before = dict(os.environ)
    yield monkeypatch
    os.environ.clear()
    os.environ.update(before)


def test_the_embedded_server_records_task_runs_in_batches(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prepare(load_settings())
    recorder = PrefectSettings().server.services.task_run_recorder
    # one write per batch instead of one per task-run event: no SQLite lock collisions
    assert (recorder.batch_size, recorder.read_batch_size, recorder.flush_interval) == (200, 50, 2)
    assert PrefectSettings().home == tmp_path / "home" / "prefect"


def test_a_real_server_and_the_users_own_values_are_left_alone(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    prepare(load_settings())
    assert PrefectSettings().server.services.task_run_recorder.batch_size == 1  # Prefect's default

    clean_env.delenv("PREFECT_API_URL")
    clean_env.setenv(f"{RECORDER}BATCH_SIZE", "7")
    prepare(load_settings())
    assert PrefectSettings().server.services.task_run_recorder.batch_size == 7


CONSOLE_CLASS = "PREFECT_LOGGING_HANDLERS_CONSOLE_CLASS"


@pytest.mark.parametrize(
    ("verbose", "debug", "installed"),
    [(False, "", True), (True, "", False), (False, "1", False)],
    ids=["quiet", "--verbose", "AADAP_DEBUG=1"],
)
def test_the_terminal_gets_prefects_console_without_tracebacks_unless_asked(
    clean_env: pytest.MonkeyPatch, verbose: bool, debug: str, installed: bool
) -> None:
    clean_env.setenv("AADAP_DEBUG", debug)
    prepare(load_settings(), verbose=verbose)
    assert (os.environ.get(CONSOLE_CLASS) == "aadap.cli._console.TracebackFreeConsoleHandler") is (
        installed
    )


def test_the_console_handler_drops_the_traceback_but_not_for_the_other_handlers() -> None:
    """The handler formats a copy: the record that Prefect's API handler (and task_logs)
    receives keeps its exception."""
    from aadap.cli._console import TracebackFreeConsoleHandler

    stream = io.StringIO()
    handler = TracebackFreeConsoleHandler(stream=stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("prefect.client").makeRecord(
            "prefect.client", logging.WARNING, __file__, 1, "it failed", (), sys.exc_info()
        )
        failed_run = logging.getLogger("prefect.task_runs").makeRecord(
            "prefect.task_runs", logging.ERROR, __file__, 1, "Task run failed", (), sys.exc_info()
        )
    handler.handle(record)
    handler.handle(failed_run)

    printed = stream.getvalue()
    assert "prefect.client it failed" in printed
    assert "Traceback" not in printed and "boom" not in printed
    assert "Task run failed" not in printed  # aadap run reports the failure itself
    assert record.exc_info is not None  # untouched for the other handlers
    assert "Traceback" in logging.Formatter().format(record)
