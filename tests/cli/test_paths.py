"""Data paths in requests resolve against the data root (the directory ``aadap run`` runs
in, or ``AADAP_DATA_ROOT``); one outside it is refused before any run exists. The
README's command works as written from the repository root, and a bundled example that
needs earlier examples' tables says which to run first."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.cli import aadap

ROOT = Path(__file__).resolve().parents[2]


def _task_count(home: Path) -> int:
    db = home / "aadap" / "aadap.db"
    if not db.exists():
        return 0
    with closing(sqlite3.connect(db)) as con:
        return int(con.execute("SELECT count(*) FROM tasks").fetchone()[0])


def test_a_path_outside_the_data_root_is_refused_before_any_run(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "orders.csv").write_text("id\n1\n")

    for text in (f"load {outside / 'orders.csv'} into t", "load ../outside/orders.csv into t"):
        done = aadap("run", text, home=tmp_path, cwd=root)
        assert done.returncode == 2, done.stderr
        line = done.stderr.strip().splitlines()[-1]
        assert line.startswith("error [DATA_PATH_OUTSIDE_ROOT]"), done.stderr
        assert str(root) in line and "orders.csv" in line
        assert "LLM" not in line and "Traceback" not in done.stderr
    # refused before anything ran: no task, no embedded Prefect server started
    assert _task_count(tmp_path) == 0
    assert not (tmp_path / "prefect" / "prefect.db").exists()

    elsewhere = aadap("run", "load orders.csv into t", home=tmp_path, cwd=root,
                      AADAP_DATA_ROOT=str(tmp_path / "missing"))  # fmt: skip
    assert elsewhere.returncode == 2
    assert "AADAP_DATA_ROOT" in elsewhere.stderr


def test_an_example_that_needs_earlier_tables_says_which_to_run_first(tmp_path: Path) -> None:
    done = aadap("run", "--example", "daily-revenue", home=tmp_path)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error [EXAMPLE_NEEDS_TABLES]"), done.stderr
    assert "aadap run --example load-orders; aadap run --example dedupe-orders" in line
    assert _task_count(tmp_path) == 0


@pytest.mark.slow
def test_the_readme_request_runs_from_the_repository_root_and_the_data_root_moves_it(
    home_with_migrated_prefect: Path,
) -> None:
    home = home_with_migrated_prefect
    readme = (ROOT / "README.md").read_text()
    text = "load examples/data/orders.csv into raw_orders"
    assert f'aadap run "{text}"' in readme  # the command as the README writes it

    done = aadap("run", text, home=home, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "state     COMPLETED" in done.stdout
    assert str(ROOT / "examples" / "data" / "orders.csv") in done.stdout

    moved = aadap("run", "load data/customers.csv into customers", home=home,
                  cwd=home, AADAP_DATA_ROOT=str(ROOT / "examples"), timeout=300)  # fmt: skip
    assert moved.returncode == 0, moved.stderr[-3000:]
    assert str(ROOT / "examples" / "data" / "customers.csv") in moved.stdout
