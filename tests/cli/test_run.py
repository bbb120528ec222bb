"""``aadap run``: a bundled example end to end on the embedded defaults, every bundled
example in order, and bad input refused with a message that names the field and what is
allowed, leaving no task behind."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from aadap.agents import load_examples
from aadap.core.requests import MAX_REQUEST_CHARS
from tests.cli import aadap
from tests.conftest import prefect_server_on_postgres

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIRST = load_examples(EXAMPLES)[0]


def sqlite_rows(home: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(home / "aadap" / "aadap.db")) as con:
        return list(con.execute(query))


@pytest.mark.slow
@pytest.mark.prefect  # `aadap run` starts Prefect's embedded server
def test_run_a_bundled_example_on_the_embedded_defaults(tmp_path: Path) -> None:
    """A fresh machine: no database, no Prefect server, no LLM account; any working directory."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()

    done = aadap("run", "--example", FIRST.name, home=tmp_path, cwd=cwd, timeout=240)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "state     COMPLETED" in done.stdout
    assert "-- code (sql) --" in done.stdout
    assert "CREATE TABLE raw_orders AS" in done.stdout
    assert str(EXAMPLES / "data" / "orders.csv") in done.stdout
    assert "-- result --\n200 row(s) affected" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    # progress, one line per transition, on stderr
    assert "SUBMITTED → PARSING" in done.stderr
    assert "DEPLOYED → COMPLETED" in done.stderr
    # everything landed under AADAP_HOME: the SQLite trail and the DuckDB table
    [(task_id, state, tokens)] = sqlite_rows(
        tmp_path, "SELECT id, current_state, tokens_used FROM tasks"
    )
    assert state == "COMPLETED"
    assert f"tokens    {tokens}" in done.stdout
    seqs = [r[0] for r in sqlite_rows(tmp_path, "SELECT sequence_num FROM state_transitions")]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    assert (tmp_path / "aadap" / "local.duckdb").is_file()
    assert (tmp_path / "prefect").is_dir()

    listed = aadap("tasks", "list", "--format", "json", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["state"], row["title"]) == ("COMPLETED", FIRST.request)
    shown = aadap("tasks", "show", row["id"][:8], "--format", "json", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["id"].replace("-", "") == str(task_id).replace("-", "")
    assert [t["seq"] for t in detail["transitions"]] == list(range(1, len(seqs) + 1))
    assert detail["transitions"][-1]["to"] == "COMPLETED"
    assert [(e["status"], e["rows_affected"]) for e in detail["executions"]] == [("SUCCESS", 200)]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.prefect  # `aadap run` starts Prefect's embedded server
@pytest.mark.timeout(1800)  # many full lifecycles: minutes on a loaded machine
def test_every_bundled_example_runs_end_to_end_in_order(tmp_path: Path) -> None:
    """The examples build on each other's tables, so they run in order against one
    AADAP_HOME (SQLite, DuckDB); a Prefect server on PostgreSQL spares each run the
    ephemeral API's start-up. Every example must complete; all failures are reported."""
    (tmp_path / "prefect-api").mkdir()
    failures = []
    with prefect_server_on_postgres(tmp_path / "prefect-api") as api:
        for example in load_examples(EXAMPLES):
            done = aadap(
                "run", "--example", example.name, "--format", "json",
                home=tmp_path, timeout=180, PREFECT_API_URL=api,
            )  # fmt: skip
            state = json.loads(done.stdout)["state"] if done.stdout.startswith("{") else None
            if done.returncode != 0 or state != "COMPLETED":
                last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                failures.append(f"{example.name}: exit {done.returncode}, {state}: {last[:300]}")
    assert failures == [], "\n".join(failures)
    states = sqlite_rows(tmp_path, "SELECT current_state, count(*) FROM tasks GROUP BY 1")
    assert states == [("COMPLETED", len(load_examples(EXAMPLES)))]


@pytest.fixture(scope="module")
def migrated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-home")
    done = aadap("db", "upgrade", home=home)
    assert done.returncode == 0, done.stderr
    return home


BAD_INPUT = {
    "empty request": (["run", ""], ["text", "at least 1 character"]),
    "blank request": (["run", "   \n "], ["text", "at least 1 character"]),
    "oversized request": (
        ["run", "x" * (MAX_REQUEST_CHARS + 1)],
        [
            "text",
            f"<{MAX_REQUEST_CHARS + 1} characters>",
            f"at most {MAX_REQUEST_CHARS} characters",
        ],
    ),
    "no request": (["run"], ["request", "a request text argument, or --example NAME"]),
    "unknown example": (["run", "--example", "nope"], ["--example='nope'", FIRST.name]),
    "unknown platform": (
        ["run", "load orders.csv", "--platform", "snowflake"],
        ["platform='snowflake'", "'local', 'databricks' or 'fabric'"],
    ),
    "unknown environment": (
        ["run", "load orders.csv", "--environment", "STAGING"],
        ["environment='STAGING'", "'SANDBOX' or 'PRODUCTION'"],
    ),
    "negative token budget": (
        ["run", "load orders.csv", "--token-budget", "-1"],
        ["token_budget=-1", "greater than or equal to 0"],
    ),
    "non-integer token budget": (
        ["run", "load orders.csv", "--token-budget", "lots"],
        ["--token-budget", "integer"],
    ),
    "negative USD budget": (
        ["run", "load orders.csv", "--usd-budget", "-3"],
        ["usd_budget", "greater than or equal to 0"],
    ),
    "non-numeric USD budget": (
        ["run", "load orders.csv", "--usd-budget", "abc"],
        ["--usd-budget='abc'", "a non-negative decimal"],
    ),
    "unknown format": (
        ["run", "load orders.csv", "--format", "yaml"],
        ["--format='yaml'", "text, json"],
    ),
    "bracketed format": (
        ["run", "load orders.csv", "--format", "[/x]"],
        ["--format='[/x]'", "text, json"],
    ),
}


@pytest.fixture(scope="module")
def refused(migrated_home: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every bad-input command, run up front a few at a time (each is mostly start-up)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            case: pool.submit(aadap, *args, home=migrated_home)
            for case, (args, _) in BAD_INPUT.items()
        }
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_exits_2_naming_the_field_and_leaves_no_task(
    migrated_home: Path, refused: dict[str, subprocess.CompletedProcess[str]], case: str
) -> None:
    _, expected = BAD_INPUT[case]

    done = refused[case]

    assert done.returncode == 2, (done.stdout, done.stderr[-2000:])
    message = " ".join(done.stderr.split())  # typer boxes and wraps its own usage errors
    for part in expected:
        assert part in message, (part, done.stderr)
    assert "Traceback" not in done.stderr
    assert sqlite_rows(migrated_home, "SELECT count(*) FROM tasks") == [(0,)]
    assert sqlite_rows(migrated_home, "SELECT count(*) FROM task_logs") == [(0,)]


def test_an_unreachable_database_is_named_and_fails_without_a_traceback(
    migrated_home: Path,
) -> None:
    done = aadap(
        "run",
        "load orders.csv",
        home=migrated_home,
        AADAP_DATABASE_URL="postgresql://postgres@127.0.0.1:1/x",
    )

    assert done.returncode == 1, done.stderr
    assert "[DATABASE_UNAVAILABLE]" in done.stderr
    assert "AADAP_DATABASE_URL" in done.stderr
    assert "127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr
    assert sqlite_rows(migrated_home, "SELECT count(*) FROM tasks") == [(0,)]


def test_an_unsupported_database_url_is_a_configuration_error(migrated_home: Path) -> None:
    done = aadap("run", "load orders.csv", home=migrated_home, AADAP_DATABASE_URL="mysql://db/x")

    assert done.returncode == 2, done.stderr
    assert "[CONFIG_INVALID]" in done.stderr
    assert "AADAP_DATABASE_URL" in done.stderr
    assert "postgresql://" in done.stderr  # what is allowed
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.prefect  # `aadap run` starts Prefect's embedded server
@pytest.mark.timeout(1800)  # many full lifecycles: minutes on a loaded machine
def test_simultaneous_runs_on_a_fresh_home_all_complete_without_a_traceback(
    tmp_path: Path,
) -> None:
    """Every ``aadap run`` starts Prefect's embedded server on the same fresh
    ``PREFECT_HOME``; unserialised, their migrations of one SQLite file raced and uvicorn's
    traceback reached the terminal. The same goes for AADAP's own database and the DuckDB
    file: every run completes, each with its table and its cost rows."""
    orders = EXAMPLES / "data" / "orders.csv"
    runs = 6
    with ThreadPoolExecutor(max_workers=runs) as pool:
        done = list(
            pool.map(
                lambda i: aadap(
                    "run",
                    f"load {orders} into raw_orders_{i}",
                    home=tmp_path,
                    timeout=600,
                    AADAP_DATA_ROOT=str(EXAMPLES),  # the runs read the bundled data
                ),
                range(runs),
            )
        )
    for result in done:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Traceback" not in result.stdout + result.stderr
    assert sqlite_rows(tmp_path, "SELECT current_state, count(*) FROM tasks GROUP BY 1") == [
        ("COMPLETED", runs)
    ]
    assert sqlite_rows(
        tmp_path, "SELECT count(*) FROM cost_records WHERE status != 'succeeded'"
    ) == [(0,)]
