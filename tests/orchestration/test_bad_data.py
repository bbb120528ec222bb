"""A data file that cannot be read correctly ends the lifecycle in a data error before
anything is deployed; a legitimate edge case (a header-only file) still completes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from aadap.db import models
from tests.orchestration.conftest import HarnessFactory

pytestmark = pytest.mark.prefect


def tables(home: Path) -> list[str]:
    path = home / "local.duckdb"
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [row[0] for row in con.execute("SHOW TABLES").fetchall()]
    finally:
        con.close()


async def test_a_ragged_csv_fails_the_run_with_a_data_error_and_loads_nothing(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("id,name,amount\n1,ann,10\n2,bob\n3,cy,30\n")
    h = make_harness()

    state = await h.run(f"load {path} into a table called ragged_rows")

    assert state.is_failed()
    assert "DATA_INVALID" in (state.message or "")
    task = await h.only_task()
    assert task.current_state == "FAILED"
    [execution] = await h.rows(models.Execution, task.id)
    assert execution.status == "FAILED"
    assert "ragged" in (execution.error or "")
    logs = await h.rows(models.TaskLog, task.id)
    # not retried: one deploy attempt, and the flow failed with the data error's code
    assert [log.attempt for log in logs if log.event == "step.attempt_failed"] == [1]
    assert ("flow.failed", "DATA_INVALID") in {(log.event, log.error_code) for log in logs}
    assert "ragged_rows" not in tables(h.settings.home)


async def test_a_header_only_csv_still_loads_an_empty_table(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    path = tmp_path / "header_only.csv"
    path.write_text("id,name,amount\n")
    h = make_harness()

    state = await h.run(f"load {path} into a table called no_rows_yet")

    assert state.is_completed(), state.message
    assert "no_rows_yet" in tables(h.settings.home)
