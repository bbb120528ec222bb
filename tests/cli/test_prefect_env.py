"""``aadap.cli._prefect_env.prepare``: the embedded Prefect server's settings that the CLI
applies before Prefect starts, and that it never overrides what the user set."""

from __future__ import annotations

import os
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
