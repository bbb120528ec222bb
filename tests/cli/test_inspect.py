"""``aadap logs``, ``aadap costs`` and ``aadap tasks`` against PostgreSQL, compared with
figures PostgreSQL computes itself from ``task_logs``, ``cost_records`` and ``tasks``.

The trail comes from two real lifecycles run by ``aadap run`` on a throwaway database and
a Prefect server (one completes, one stops on its token budget), plus priced cost rows spread over days,
months and models (the offline provider is free) and a few log rows with awkward text.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aadap.db.session import Database
from tests import builders
from tests.cli import AADAP, aadap, cli_env
from tests.conftest import prefect_server_on_postgres, settings_for, throwaway_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.prefect]  # the trail comes from `aadap run`

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AT_LEAST_WARNING = ["WARNING", "ERROR", "CRITICAL"]
BRACKETS = "Load [orders] from [/x] into [bold]raw[/bold]"
LOG_QUERIES = {
    "stopped, all": ("stopped", None, None),
    "stopped, warning and up": ("stopped", "WARNING", None),
    "stopped, warning + budget": ("stopped", "WARNING", "budget"),
    "completed, warning + rate limited": ("completed", "warning", "RATE limited"),
    "completed, an underscore": ("completed", None, "_"),
}
# week and month buckets are compared with PostgreSQL's own in tests/services/test_costs.py
CLI_GROUPINGS = ["task", "agent", "model", "day"]
Results = dict[str, subprocess.CompletedProcess[str]]


@dataclass
class Trail:
    url: str
    home: Path
    completed: str  # task ids
    stopped: str
    bracketed: str

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return aadap(*args, home=self.home, AADAP_DATABASE_URL=self.url, **env)

    def sql(self, query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as con:
            return list(con.execute(query, params or {}))  # type: ignore[arg-type]


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


async def _add_rows(url: str, home: Path, completed: str, stopped: str) -> str:
    db = Database(settings_for(url, home))
    try:
        async with db.transaction() as session:
            odd = builders.task(title=BRACKETS, request=BRACKETS)
            session.add(odd)
            await session.flush()
            session.add(builders.approval(odd.id))  # waiting for a decision
            ids = [uuid.UUID(completed), uuid.UUID(stopped), odd.id, None]
            priced = [
                ("parser", "openai", "gpt-4o-mini", "0.1", _utc(2025, 12, 29, 0, 30)),
                ("planner", "openai", "gpt-4o-mini", "0.2", _utc(2025, 12, 31, 23, 59)),
                ("developer", "azure", "gpt-4o", "1.2345678901", _utc(2026, 1, 31, 23, 30)),
                ("developer", "azure", "gpt-4o", "0.0000000001", _utc(2026, 2, 1, 0, 10)),
                ("reviewer", "vllm", "llama-3", None, _utc(2026, 2, 28, 15, 0)),
                ("optimiser", "openai", "gpt-4o-mini", "99.9999999999", _utc(2026, 3, 2, 9, 0)),
            ]
            for i, (agent, provider, model, cost, at) in enumerate(priced):
                session.add(
                    builders.cost(
                        ids[i % len(ids)],
                        agent_type=agent,
                        provider=provider,
                        model=model,
                        tokens_in=1000 + i,
                        tokens_out=10 * i,
                        cost_usd=None if cost is None else Decimal(cost),
                        status="succeeded",
                        created_at=at,
                    )
                )
            for level, event, message in [
                ("WARNING", "step.attempt_failed", "developer: Rate LIMITED by the provider"),
                ("WARNING", "rate_limit.backoff", "waiting 2 s"),
                ("ERROR", "custom", "100% of the budget is spent"),
                ("DEBUG", "custom", "rate limited (debug detail)"),
            ]:
                session.add(
                    builders.log(uuid.UUID(completed), level=level, event=event, message=message)
                )
        return str(odd.id)
    finally:
        await db.dispose()


def _run_lifecycles(url: str, base: Path, api: str) -> tuple[str, str]:
    """Two ``aadap run`` at once, each with its own AADAP_HOME (DuckDB), on one Prefect server."""
    runs = {
        "completed": (["run", "--example", "load-orders", "--format", "json"], base / "a"),
        "stopped": (
            ["run", "Ingest the JSON file data/events.json into events", "--format", "json",
             "--token-budget", "2500"],
            base / "b",
        ),
    }  # fmt: skip
    procs = {}
    outputs = {}
    try:
        for name, (args, home) in runs.items():
            home.mkdir()
            procs[name] = subprocess.Popen(
                [str(AADAP), *args],
                env=cli_env(home, AADAP_DATABASE_URL=url, PREFECT_API_URL=api),
                cwd=EXAMPLES,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        for name, proc in procs.items():
            outputs[name] = proc.communicate(timeout=300)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert procs["completed"].returncode == 0, outputs["completed"][1][-3000:]
    assert procs["stopped"].returncode == 1, outputs["stopped"][1][-3000:]
    assert "[TOKEN_BUDGET_EXCEEDED]" in outputs["stopped"][1]
    return json.loads(outputs["completed"][0])["task_id"], json.loads(outputs["stopped"][0])[
        "task_id"
    ]


@pytest.fixture(scope="module")
async def trail(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Trail]:
    base = tmp_path_factory.mktemp("inspect")
    (base / "prefect-api").mkdir()
    # the embedded defaults are test_run.py's; here a Prefect server on PostgreSQL keeps the
    # two runs free of the ephemeral API's start-up and SQLite lock back-offs
    with (
        throwaway_postgres_database() as url,
        prefect_server_on_postgres(base / "prefect-api") as api,
    ):
        migrated = await asyncio.to_thread(
            aadap, "db", "upgrade", home=base, AADAP_DATABASE_URL=url
        )
        assert migrated.returncode == 0, migrated.stderr
        completed, stopped = await asyncio.to_thread(_run_lifecycles, url, base, api)
        bracketed = await _add_rows(url, base, completed, stopped)
        yield Trail(url, base, completed, stopped, bracketed)


def _calls(trail: Trail) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Every CLI invocation the tests below check, by name."""
    calls: dict[str, tuple[list[str], dict[str, str]]] = {}
    for name, (which, level, search) in LOG_QUERIES.items():
        args = ["logs", getattr(trail, which), "--format", "json"]
        args += ["--level", level] if level else []
        args += ["--search", search] if search else []
        calls[f"logs {name}"] = (args, {})
    calls["logs critical json"] = (
        ["logs", trail.stopped[:8], "--level", "CRITICAL", "--format", "json"],
        {},
    )
    calls["logs critical text"] = (["logs", trail.stopped, "--level", "CRITICAL"], {})
    for by in CLI_GROUPINGS:
        calls[f"costs {by} json"] = (["costs", "--by", by, "--format", "json"], {})
    calls["costs agent csv"] = (["costs", "--by", "agent", "--format", "csv"], {})
    calls["costs day tokyo"] = (
        ["costs", "--by", "day", "--format", "json"],
        {"AADAP_TIMEZONE": "Asia/Tokyo"},
    )
    calls["costs since"] = (
        ["costs", "--by", "model", "--since", "2026-02-01", "--format", "json"],
        {},
    )
    calls["costs table"] = (["costs", "--by", "model"], {})
    calls["costs task table"] = (["costs", "--by", "task"], {})
    calls["costs task csv"] = (["costs", "--by", "task", "--format", "csv"], {})
    calls["tasks list json"] = (["tasks", "list", "--format", "json"], {})
    calls["tasks list failed"] = (["tasks", "list", "--state", "failed", "--format", "json"], {})
    calls["tasks list text"] = (["tasks", "list"], {})
    calls["approvals list text"] = (["approvals", "list"], {})
    calls["tasks show json"] = (["tasks", "show", trail.stopped[:8], "--format", "json"], {})
    calls["tasks show text"] = (["tasks", "show", trail.stopped], {})
    calls["unknown logs"] = (["logs", "ffffffff"], {})
    calls["short prefix"] = (["tasks", "show", "abc"], {})
    return calls


@pytest.fixture(scope="module")
def cli(trail: Trail) -> Results:
    """Run every CLI call up front, a few at a time (each one is mostly interpreter start-up)."""
    calls = _calls(trail)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(trail.cli, *args, **env) for name, (args, env) in calls.items()
        }
        return {name: future.result() for name, future in futures.items()}


# --- logs ----------------------------------------------------------------------------


def sql_logs(trail: Trail, task: str, levels: list[str] | None, search: str | None) -> list[Any]:
    """``contains`` computed with strpos, so LIKE wildcards in the search are plain text."""
    where = ["task_id = %(task)s"]
    if levels:
        where.append("level = ANY(%(levels)s)")
    if search:
        where.append(
            "(strpos(lower(message), lower(%(search)s)) > 0"
            " OR strpos(lower(event), lower(%(search)s)) > 0)"
        )
    return trail.sql(
        "SELECT created_at, level, event, message, source, error_code, severity, attempt, "
        "flow_run_id, task_run_id, correlation_id FROM task_logs WHERE "
        + " AND ".join(where)
        + " ORDER BY created_at, id",
        {"task": task, "levels": levels, "search": search},
    )


def cli_logs(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (dt.datetime.fromisoformat(r["created_at"]), r["level"], r["event"], r["message"],
         r["source"], r["error_code"], r["severity"], r["attempt"], r["flow_run_id"],
         r["task_run_id"], r["correlation_id"])
        for r in rows
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("query", list(LOG_QUERIES), ids=list(LOG_QUERIES))
def test_logs_json_equals_the_rows_in_postgresql(trail: Trail, cli: Results, query: str) -> None:
    which, level, search = LOG_QUERIES[query]
    task = getattr(trail, which)

    done = cli[f"logs {query}"]

    assert done.returncode == 0, done.stderr
    levels = None
    if level:
        order = ["DEBUG", "INFO", *AT_LEAST_WARNING]
        levels = order[order.index(level.upper()) :]
    expected = sql_logs(trail, task, levels, search)
    assert expected, "the query should match something"
    assert cli_logs(json.loads(done.stdout)) == [tuple(row) for row in expected]


@pytest.mark.slow
def test_logs_of_the_stopped_task_carry_the_budget_error(trail: Trail, cli: Results) -> None:
    rows = json.loads(cli["logs critical json"].stdout)
    assert [tuple(r) for r in cli_logs(rows)] == [
        tuple(row) for row in sql_logs(trail, trail.stopped, ["CRITICAL"], None)
    ]
    assert {(r["event"], r["error_code"], r["severity"]) for r in rows} >= {
        ("step.failed", "TOKEN_BUDGET_EXCEEDED", "CRITICAL"),
        ("flow.failed", "TOKEN_BUDGET_EXCEEDED", "CRITICAL"),
    }
    text = cli["logs critical text"]
    assert text.returncode == 0
    assert len(text.stdout.splitlines()) == len(rows)
    assert all("[TOKEN_BUDGET_EXCEEDED]" in line for line in text.stdout.splitlines())


# --- costs ---------------------------------------------------------------------------

_SQL_KEY = {
    "task": "coalesce(CAST(task_id AS text), '(deleted task)')",
    "agent": "agent_type",
    "model": "provider || '/' || model",
    "day": "to_char(created_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD')",
    "week": "to_char(created_at AT TIME ZONE %(tz)s, 'IYYY-\"W\"IW')",
    "month": "to_char(created_at AT TIME ZONE %(tz)s, 'YYYY-MM')",
}


def sql_costs(trail: Trail, by: str, tz: str = "UTC", since: str | None = None) -> dict[str, Any]:
    rows = trail.sql(
        f"SELECT {_SQL_KEY[by]}, count(*), sum(tokens_in), sum(tokens_out), "
        "coalesce(sum(cost_usd_e10), 0) / 10000000000.0, count(*) FILTER (WHERE cost_usd_e10 IS NULL) FROM cost_records"
        + (" WHERE created_at >= %(since)s" if since else "")
        + " GROUP BY 1",
        {"tz": tz, "since": since},
    )
    return {r[0]: (r[1], r[2], r[3], Decimal(r[4]), r[5]) for r in rows}


def parsed(rows: list[dict[str, Any]], by: str) -> dict[str, Any]:
    return {
        r[by]: (int(r["calls"]), int(r["tokens_in"]), int(r["tokens_out"]),
                Decimal(r["cost_usd"]), int(r["unpriced_calls"]))
        for r in rows
    }  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("by", CLI_GROUPINGS)
def test_costs_json_equals_postgresql_sums(trail: Trail, cli: Results, by: str) -> None:
    done = cli[f"costs {by} json"]

    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r[by] for r in rows] == sorted(r[by] for r in rows)
    assert parsed(rows, by) == sql_costs(trail, by)


@pytest.mark.slow
def test_costs_csv_equals_postgresql_sums(trail: Trail, cli: Results) -> None:
    by = "agent"
    done = cli["costs agent csv"]

    assert done.returncode == 0, done.stderr
    reader = csv.DictReader(io.StringIO(done.stdout))
    assert reader.fieldnames == [
        by,
        "calls",
        "tokens_in",
        "tokens_out",
        "cost_usd",
        "unpriced_calls",
    ]
    assert parsed(list(reader), by) == sql_costs(trail, by)


@pytest.mark.slow
def test_costs_by_day_use_the_configured_time_zone(trail: Trail, cli: Results) -> None:
    done = cli["costs day tokyo"]

    assert done.returncode == 0, done.stderr
    tokyo = parsed(json.loads(done.stdout), "day")
    assert tokyo == sql_costs(trail, "day", tz="Asia/Tokyo")
    assert "2026-02-01" in tokyo and tokyo != sql_costs(trail, "day")  # 23:30 UTC is the next day


@pytest.mark.slow
def test_costs_since_leaves_older_rows_out(trail: Trail, cli: Results) -> None:
    done = cli["costs since"]

    assert done.returncode == 0, done.stderr
    assert parsed(json.loads(done.stdout), "model") == sql_costs(
        trail, "model", since="2026-02-01T00:00:00+00:00"
    )


@pytest.mark.slow
def test_costs_table_shows_every_group(trail: Trail, cli: Results) -> None:
    done = cli["costs table"]

    assert done.returncode == 0, done.stderr
    for model, (calls, *_rest) in sql_costs(trail, "model").items():
        assert any(model in line and f" {calls} " in line for line in done.stdout.splitlines()), (
            model
        )


def sql_titles(trail: Trail) -> dict[str, str | None]:
    """Each task key of ``aadap costs --by task`` and its task's title (None: deleted)."""
    return dict(
        trail.sql(
            f"SELECT DISTINCT {_SQL_KEY['task']}, t.title FROM cost_records "
            "LEFT JOIN tasks t ON t.id = cost_records.task_id"
        )
    )


@pytest.mark.slow
def test_costs_by_task_name_each_task_by_id_and_title(trail: Trail, cli: Results) -> None:
    """JSON and CSV carry the whole id and the title; the table the id's first eight
    characters (what ``aadap tasks show`` takes) and the title, shown literally, with the
    rows of a deleted task under ``(deleted task)`` and no title."""
    titles = sql_titles(trail)
    assert titles["(deleted task)"] is None and BRACKETS in titles.values()
    as_json = json.loads(cli["costs task json"].stdout)
    assert {r["task"]: r["title"] for r in as_json} == titles
    as_csv = list(csv.DictReader(io.StringIO(cli["costs task csv"].stdout)))
    assert {r["task"]: r["title"] or None for r in as_csv} == titles
    assert list(as_csv[0])[:3] == ["task", "title", "calls"]

    table = cli["costs task table"]
    assert table.returncode == 0, table.stderr
    cells = [[c.strip() for c in line.split("│")[1:4]] for line in table.stdout.splitlines()]
    sums = sql_costs(trail, "task")
    assert sorted(c for c in cells if len(c) == 3) == sorted(
        [task if title is None else task[:8], title or "", str(sums[task][0])]
        for task, title in titles.items()
    ), table.stdout


# --- tasks ---------------------------------------------------------------------------


@pytest.mark.slow
def test_tasks_list_equals_postgresql(trail: Trail, cli: Results) -> None:
    done = cli["tasks list json"]

    assert done.returncode == 0, done.stderr
    expected = trail.sql(
        "SELECT id, current_state, title, tokens_used, cost_usd FROM tasks ORDER BY created_at DESC"
    )
    assert [
        (uuid.UUID(r["id"]), r["state"], r["title"], r["tokens"], Decimal(r["cost_usd"]))
        for r in json.loads(done.stdout)
    ] == [tuple(row) for row in expected]
    states = {r["id"]: r["state"] for r in json.loads(done.stdout)}
    assert (states[trail.completed], states[trail.stopped]) == ("COMPLETED", "FAILED")
    only_failed = json.loads(cli["tasks list failed"].stdout)
    assert [r["id"] for r in only_failed] == [trail.stopped]


@pytest.mark.slow
def test_tasks_list_text_shows_titles_literally(cli: Results) -> None:
    done = cli["tasks list text"]

    assert done.returncode == 0, done.stderr
    assert BRACKETS in done.stdout


@pytest.mark.slow
def test_approvals_list_text_shows_titles_literally(trail: Trail, cli: Results) -> None:
    """A title is the user's text: ``[/x]`` in it once made the table raise a markup error."""
    done = cli["approvals list text"]

    assert done.returncode == 0, done.stderr
    assert BRACKETS in done.stdout
    assert trail.bracketed[:8] in done.stdout


@pytest.mark.slow
def test_tasks_show_equals_postgresql(trail: Trail, cli: Results) -> None:
    task = trail.stopped

    done = cli["tasks show json"]

    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    [(state, tokens, cost, flow_run)] = trail.sql(
        "SELECT current_state, tokens_used, cost_usd, flow_run_id FROM tasks WHERE id = %(t)s",
        {"t": task},
    )
    assert (shown["state"], shown["tokens_used"], Decimal(shown["cost_usd"]), shown["flow_run_id"]) == (
        state, tokens, cost, flow_run,
    )  # fmt: skip
    transitions = trail.sql(
        "SELECT sequence_num, from_state, to_state, triggered_by FROM state_transitions "
        "WHERE task_id = %(t)s ORDER BY sequence_num",
        {"t": task},
    )
    assert [(t["seq"], t["from"], t["to"], t["by"]) for t in shown["transitions"]] == [
        tuple(row) for row in transitions
    ]
    executions = trail.sql(
        "SELECT status, rows_affected FROM executions WHERE task_id = %(t)s", {"t": task}
    )
    assert [(e["status"], e["rows_affected"]) for e in shown["executions"]] == [
        tuple(row) for row in executions
    ]
    text = cli["tasks show text"]
    assert text.returncode == 0
    lines = [line for line in text.stdout.splitlines() if " → " in line]
    assert len(lines) == len(transitions)
    # each line ends with its reason; a long one is cut to 80 characters, and says so
    assert any(len(t["reason"] or "") > 80 for t in shown["transitions"])
    for line, t in zip(lines, shown["transitions"], strict=True):
        reason = t["reason"]
        if not reason:
            assert line.rstrip().endswith(f"by {t['by']}"), line
        else:
            assert line.endswith(f"({reason if len(reason) <= 80 else reason[:79] + '…'})"), line


@pytest.mark.slow
def test_an_unknown_task_is_reported_not_crashed(cli: Results) -> None:
    unknown, short = cli["unknown logs"], cli["short prefix"]
    assert (unknown.returncode, short.returncode) == (2, 2)  # an id that names nothing: bad input
    assert "[TASK_NOT_FOUND] no task matches 'ffffffff'" in unknown.stderr
    assert "[INVALID_REQUEST]" in short.stderr and "at least 6 characters" in short.stderr
    assert "Traceback" not in unknown.stderr + short.stderr
