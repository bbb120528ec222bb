"""Twenty lifecycles at once on one fresh embedded home: all complete, nothing is lost.

Each lifecycle runs in a process of its own (``_scripts/one_lifecycle.py``) on the same
``AADAP_HOME``: the same new SQLite application database (migrated by whichever process
gets there first, the others wait) and the same local DuckDB file (one writer at a time,
the others wait their turn). They share the test's Prefect API: with the ephemeral API,
every process would start a Prefect server of its own, which is what makes 20 real
``aadap run`` too slow for a test here (measured: none of 20 had finished after 400 s on
the 2-core CI machine, all 20 still starting their servers).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import duckdb
import pytest
from prefect.settings import PREFECT_API_URL

from tests.orchestration.conftest import DATA

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "_scripts" / "one_lifecycle.py"
LIFECYCLES = 20


@pytest.mark.slow
@pytest.mark.timeout(1800)  # many full lifecycles: minutes on a loaded machine
def test_twenty_simultaneous_lifecycles_on_one_fresh_home_all_complete(
    prefect_api: None, tmp_path: Path
) -> None:
    home = tmp_path / "aadap"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AADAP_", "PREFECT_"))}
    env.update(
        {
            "AADAP_HOME": str(home),
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "ERROR",
            "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        }
    )
    started = time.monotonic()
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(SCRIPT),
                str(DATA.parent),
                f"load {DATA / 'orders.csv'} into a table called orders_{i}",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(LIFECYCLES)
    ]
    outcomes = [child.communicate(timeout=600) for child in children]
    elapsed = time.monotonic() - started
    failed = [
        err[-2000:] for child, (_, err) in zip(children, outcomes, strict=True) if child.returncode
    ]
    assert failed == [], failed
    assert [out.strip() for out, _ in outcomes] == ["COMPLETED"] * LIFECYCLES

    with closing(sqlite3.connect(home / "aadap.db")) as con:
        states = con.execute("SELECT current_state, count(*) FROM tasks GROUP BY 1").fetchall()
        assert states == [("COMPLETED", LIFECYCLES)]
        # every transition: one contiguous sequence per task, each from where the last ended
        rows = con.execute(
            "SELECT task_id, sequence_num, from_state, to_state FROM state_transitions "
            "ORDER BY task_id, sequence_num"
        ).fetchall()
        for _, trail in itertools.groupby(rows, key=lambda r: r[0]):
            steps = list(trail)
            assert [r[1] for r in steps] == list(range(1, len(steps) + 1))
            assert all(a[3] == b[2] for a, b in itertools.pairwise(steps))
            assert steps[-1][3] == "COMPLETED"
        # every LLM call's cost row, settled, and adding up to each task's total
        unsettled = con.execute(
            "SELECT count(*) FROM cost_records WHERE status != 'succeeded'"
        ).fetchone()
        assert unsettled == (0,)
        totals = con.execute(
            "SELECT t.id, t.tokens_used, coalesce(sum(c.tokens_in + c.tokens_out), 0), "
            "count(c.id) FROM tasks t LEFT JOIN cost_records c "
            "ON c.task_id = t.id AND c.kind = 'llm' GROUP BY t.id, t.tokens_used"
        ).fetchall()
        assert len(totals) == LIFECYCLES
        assert all(calls > 0 and used == spent for _, used, spent, calls in totals), totals
        executions = con.execute("SELECT status, count(*) FROM executions GROUP BY 1").fetchall()
        assert executions == [("SUCCESS", LIFECYCLES)]

    with (DATA / "orders.csv").open() as fh:
        rows_per_file = sum(1 for _ in fh) - 1
    with closing(duckdb.connect(str(home / "local.duckdb"), read_only=True)) as duck:
        for i in range(LIFECYCLES):
            assert duck.execute(f"SELECT count(*) FROM orders_{i}").fetchone() == (rows_per_file,)
    print(f"{LIFECYCLES} lifecycles in {elapsed:.1f}s")
