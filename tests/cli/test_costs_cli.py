"""``aadap costs`` on bad input and an empty ledger, and what the read commands import.

The figures themselves are compared with PostgreSQL's own sums in ``test_inspect.py`` and
with sums computed in Python in ``tests/services/test_aggregates.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import aadap, cli_env


def test_an_empty_ledger_prints_no_groups(tmp_path: Path) -> None:
    for by in ("task", "agent", "model", "day", "week", "month"):
        done = aadap("costs", "--by", by, "--format", "json", home=tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    ("command", "headers"),
    [
        (["costs", "--by", "task"], ["task", "title", "calls", "cost $"]),
        (["tasks", "list"], ["id", "state", "title", "created"]),
    ],
)
def test_an_empty_table_prints_its_headers(
    tmp_path: Path, command: list[str], headers: list[str]
) -> None:
    done = aadap(*command, home=tmp_path)
    assert done.returncode == 0, done.stderr
    [header] = [line for line in done.stdout.splitlines() if line.startswith("┃")]
    cells = [c.strip() for c in header.strip("┃").split("┃")]
    assert [c for c in cells if c in headers] == headers


@pytest.mark.parametrize("since", ["9999-12-31", "0001-01-01"])
def test_since_far_in_the_past_or_future_is_not_a_crash(tmp_path: Path, since: str) -> None:
    done = aadap("costs", "--since", since, "--format", "json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("since", ["99999999999d", "999999999w"])
def test_an_age_before_year_one_is_one_error_line(tmp_path: Path, since: str) -> None:
    done = aadap("costs", "--since", since, "--format", "json", home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error [") and f"--since={since!r}" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_grouping_is_one_error_line(tmp_path: Path) -> None:
    done = aadap("costs", "--by", "year", home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error [")
    assert "--by='year'" in done.stderr and "task, agent, model, day, week" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_time_zone_that_does_not_exist_is_one_error_line(tmp_path: Path) -> None:
    done = aadap("costs", "--by", "day", home=tmp_path, AADAP_TIMEZONE="Mars/Olympus_Mons")
    assert done.returncode == 2
    assert "Mars/Olympus_Mons" in done.stderr
    assert "Traceback" not in done.stderr


_IMPORTED = """
import sys
from aadap.cli import main
sys.argv = ["aadap", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = ("prefect", "alembic", "sqlglot", "databricks", "azure", "duckdb", "genai_prices",
         "httpx", "aadap.platforms", "aadap.llm", "aadap.orchestration")
print(sorted({m for m in sys.modules if m.startswith(heavy)}))
"""


@pytest.mark.parametrize(
    "command",
    [
        ["tasks", "list"],
        ["tasks", "show", "abcdef12"],
        ["costs", "--by", "day"],
        ["logs", "abcdef12"],
    ],
)
def test_read_commands_import_nothing_heavy(tmp_path: Path, command: list[str]) -> None:
    """Neither Prefect, Alembic, the SQL parser, a platform SDK nor the LLM layer: each costs
    tenths of a second of start-up that a read command does not need."""
    first = aadap("db", "upgrade", home=tmp_path)  # the first start migrates (Alembic)
    assert first.returncode == 0, first.stderr
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, *command],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
