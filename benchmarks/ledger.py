"""Benchmark of the cost ledger at scale: ``aadap costs``, the cost report, the budget watch
and the new-task budget check over a million ``cost_records`` rows.

    python benchmarks/ledger.py [--rows 1000000] [--backends postgres,sqlite] [--ten-million]
                                [--tree PATH]

For each backend it creates a fresh database (a throwaway PostgreSQL database, a SQLite
file in a temporary ``AADAP_HOME``), migrates it and seeds ``--rows`` cost rows in one
set-based ``INSERT … SELECT`` (``generate_series`` on PostgreSQL, a recursive CTE on
SQLite): a year of spend over 2,000 tasks, seven agents, six models, 1 % unpriced calls,
3 % compute rows and 2 % rows of deleted tasks. PostgreSQL then gets ``VACUUM ANALYZE``
(what autovacuum does to a table that size). ``--ten-million`` adds a 10 M-row PostgreSQL
run (off by default: seeding takes minutes).

Each measured operation runs in a subprocess of its own; its wall time and peak memory
(``ru_maxrss`` of that child, from ``os.wait4``) are reported, best of ``--repeat`` runs:

- ``aadap costs --by X --format json`` for each grouping (the command a user types, so
  the wall time includes the interpreter's start and the schema check);
- ``query X``: the service call behind it (``costs.summarise``) timed inside the child;
- ``report``: ``reports.build`` (three months, every grouping); ``watch``: one
  ``budget_watch.watch`` pass; ``new-task check``: ``ensure_spend_allows_new_task`` with
  a daily and a monthly budget set;
- ``baseline X``: the same grouping as one hand-written ``GROUP BY`` sent with the plain
  driver (psycopg / sqlite3), timed inside its child: the yardstick; the ratio is
  query / baseline.

``--tree PATH`` runs the children on another checkout (``PYTHONPATH=PATH``), e.g. the code
before the ledger moved its sums into SQL; the seed adapts to that tree's schema.

After the timings it checks the answers: every grouping's rows from ``aadap costs``
(calls, tokens, exact cost, unpriced calls per group) must equal the sums this script
computes itself in Python from the seeded rows (local days, ISO weeks and months with
``zoneinfo``), in a child of its own; a difference is printed as ``WRONG`` and fails the
run.

Exit status 1 when an answer is wrong or a target is missed (PostgreSQL, 1 M rows: each query ≤ 0.3 s, each
``aadap costs`` ≤ 1.5 s wall, peak memory ≤ 300 MB; SQLite 1 M rows and PostgreSQL 10 M
rows: each query ≤ 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if "--child" not in sys.argv:  # a child imports the tree under test, from its PYTHONPATH
    sys.path.insert(0, str(ROOT))

GROUPINGS = ("task", "agent", "model", "day", "week", "month")
TIMEZONE = "Europe/Paris"
TASKS = 2_000
SPAN_DAYS = 365
MB = 1024  # ru_maxrss is in KiB on Linux

# --- seeding --------------------------------------------------------------------------------

_PG_SEED = """
INSERT INTO cost_records (id, task_id, flow_run_id, task_run_id, agent_type, kind, provider,
    model, tokens_in, tokens_out, {cost}, latency_ms, attempt, call_id, status, details,
    created_at)
SELECT gen_random_uuid(),
       CASE WHEN g % 50 = 0 THEN NULL ELSE t.ids[1 + g % {tasks}] END,
       NULL, NULL,
       (ARRAY['parser','planner','router','developer','reviewer','optimiser','deploy'])[1 + g % 7],
       CASE WHEN g % 33 = 0 THEN 'compute' ELSE 'llm' END,
       (ARRAY['openai','openai','azure','vllm','offline','databricks'])[1 + g % 6],
       (ARRAY['gpt-4o','gpt-4o-mini','gpt-4o','llama-3','offline-rules-v1','dbx-compute'])[1 + g % 6],
       (g::bigint * 7919) % 4000, (g::bigint * 104729) % 900,
       CASE WHEN g % 100 = 0 THEN NULL ELSE {cost_value} END,
       g % 5000, 1, 'bench-' || g, 'succeeded', '{{}}'::jsonb,
       now() - make_interval(secs => (g::float8 / {rows}) * {span_seconds})
FROM generate_series(1, {rows}) AS g,
     (SELECT array_agg(id) AS ids FROM tasks) AS t
"""
# the same rows on SQLite (UUIDs as 32 hex digits and timestamps as text, as SQLAlchemy
# stores them there)
_SQLITE_SEED = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}),
     t AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM tasks)
INSERT INTO cost_records (id, task_id, flow_run_id, task_run_id, agent_type, kind, provider,
    model, tokens_in, tokens_out, {cost}, latency_ms, attempt, call_id, status, details,
    created_at)
SELECT lower(hex(randomblob(16))),
       CASE WHEN n % 50 = 0 THEN NULL ELSE (SELECT id FROM t WHERE i = n % {tasks}) END,
       NULL, NULL,
       CASE n % 7 WHEN 0 THEN 'parser' WHEN 1 THEN 'planner' WHEN 2 THEN 'router'
            WHEN 3 THEN 'developer' WHEN 4 THEN 'reviewer' WHEN 5 THEN 'optimiser'
            ELSE 'deploy' END,
       CASE WHEN n % 33 = 0 THEN 'compute' ELSE 'llm' END,
       CASE n % 6 WHEN 0 THEN 'openai' WHEN 1 THEN 'openai' WHEN 2 THEN 'azure'
            WHEN 3 THEN 'vllm' WHEN 4 THEN 'offline' ELSE 'databricks' END,
       CASE n % 6 WHEN 0 THEN 'gpt-4o' WHEN 1 THEN 'gpt-4o-mini' WHEN 2 THEN 'gpt-4o'
            WHEN 3 THEN 'llama-3' WHEN 4 THEN 'offline-rules-v1' ELSE 'dbx-compute' END,
       (n * 7919) % 4000, (n * 104729) % 900,
       CASE WHEN n % 100 = 0 THEN NULL ELSE {cost_value} END,
       n % 5000, 1, 'bench-' || n, 'succeeded', '{{}}',
       strftime('%Y-%m-%d %H:%M:%S', 'now',
                '-' || CAST((n * 1.0 / {rows}) * {span_seconds} AS INTEGER) || ' seconds')
           || '.000000'
FROM g
"""


def _cost_column(columns: set[str], n: str = "g") -> tuple[str, str]:
    """The seeded amount of row ``n`` (12,345 to 9,999,998 x 10^-10 USD) in the tree's
    schema (before revision 0002: an exact decimal ``cost_usd``)."""
    units = f"(12345 + ({n} * 2654435761) % 9987654)"
    if "cost_usd_e10" in columns:
        return "cost_usd_e10", units
    return "cost_usd", f"{units} / 10000000000.0"


def _seed_postgres(url: str, rows: int) -> float:
    import psycopg

    start = time.perf_counter()
    with psycopg.connect(_plain_pg(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (id, title, request, environment, platform, current_state, "
            "priority, token_budget, tokens_used, cost_usd, correlation_id, metadata, "
            "created_at, updated_at) SELECT gen_random_uuid(), 'bench task ' || g, 'bench', "
            "'SANDBOX', 'local', 'COMPLETED', 0, 50000, 0, 0, 'bench-' || g, '{}', now(), now() "
            f"FROM generate_series(1, {TASKS}) AS g"
        )
        cost, value = _cost_column(_columns(conn), "g::bigint")
        conn.execute(
            _PG_SEED.format(
                cost=cost,
                cost_value=value,
                rows=rows,
                tasks=TASKS,
                span_seconds=SPAN_DAYS * 86400,
            )
        )
        conn.execute("VACUUM ANALYZE cost_records")
        conn.execute("VACUUM ANALYZE tasks")
    return time.perf_counter() - start


def _seed_sqlite(path: Path, rows: int) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "INSERT INTO tasks (id, title, request, environment, platform, current_state, "
            "priority, token_budget, tokens_used, cost_usd, correlation_id, metadata, "
            "created_at, updated_at) "
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < "
            f"{TASKS}) SELECT lower(hex(randomblob(16))), 'bench task ' || n, 'bench', "
            "'SANDBOX', 'local', 'COMPLETED', 0, 50000, 0, '0', 'bench-' || n, '{}', "
            "strftime('%Y-%m-%d %H:%M:%S', 'now') || '.000000', "
            "strftime('%Y-%m-%d %H:%M:%S', 'now') || '.000000' FROM g"
        )
        cost, value = _cost_column(_columns(conn), "n")
        if cost == "cost_usd":  # SQLite keeps that tree's amounts as decimal text
            value = f"printf('%.10f', {value})"
        conn.execute(
            _SQLITE_SEED.format(
                cost=cost,
                cost_value=value,
                rows=rows,
                tasks=TASKS,
                span_seconds=SPAN_DAYS * 86400,
            )
        )
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return time.perf_counter() - start


def _plain_pg(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _connect(url: str) -> Any:
    """A plain driver's connection (sqlite3 or psycopg) to the database at ``url``."""
    if url.startswith("sqlite"):
        return sqlite3.connect(url.split(":///", 1)[1])
    import psycopg

    return psycopg.connect(_plain_pg(url))


def _columns(conn: Any) -> set[str]:
    """The columns ``cost_records`` has in the schema of the tree under test."""
    if isinstance(conn, sqlite3.Connection):
        return {r[1] for r in conn.execute("PRAGMA table_info(cost_records)")}
    found = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'cost_records'"
    )
    return {r[0] for r in found}


# --- what a child measures ----------------------------------------------------------------

_BASELINE_KEY = {
    "postgresql": {
        "task": "task_id",
        "agent": "agent_type",
        "model": "provider, model",
        "day": f"date_trunc('day', created_at AT TIME ZONE '{TIMEZONE}')",
        "week": f"date_trunc('week', created_at AT TIME ZONE '{TIMEZONE}')",
        "month": f"date_trunc('month', created_at AT TIME ZONE '{TIMEZONE}')",
    },
    # SQLite has no time zones: its baseline buckets UTC days (less work than ours)
    "sqlite": {
        "task": "task_id",
        "agent": "agent_type",
        "model": "provider, model",
        "day": "substr(created_at, 1, 10)",
        "week": "strftime('%Y-%W', created_at)",
        "month": "substr(created_at, 1, 7)",
    },
}


def _baseline_sql(dialect: str, by: str, cost: str) -> str:
    key = _BASELINE_KEY[dialect][by]
    return (
        f"SELECT {key}, count(*), sum(tokens_in), sum(tokens_out), sum({cost}), "
        f"count(*) - count({cost}) FROM cost_records GROUP BY {key}"
    )


async def _child(what: str, url: str) -> float:
    """Run one operation in this (child) process; returns its own duration in seconds, the
    modules imported and the connection opened before the clock starts."""
    import zoneinfo

    from sqlalchemy import text

    from aadap.core.config import load_settings
    from aadap.db.session import Database
    from aadap.services import budget_watch, costs, reports

    if what.startswith("baseline "):
        return _baseline(what.split()[1], url)
    settings = load_settings()
    db = Database(settings)
    try:
        async with db.sessions() as session:
            await session.execute(text("SELECT 1"))
        start = time.perf_counter()
        if what.startswith("query "):
            async with db.sessions() as session:
                await costs.summarise(
                    session,
                    by=what.split()[1],  # type: ignore[arg-type]
                    tz=zoneinfo.ZoneInfo(TIMEZONE),
                )
        elif what == "report":
            await reports.build(db, settings, months=3)
        elif what == "watch":
            await budget_watch.watch(db, settings)
        elif what == "new-task check":
            await budget_watch.ensure_spend_allows_new_task(db, settings)
        return time.perf_counter() - start
    finally:
        await db.dispose()


def _baseline(by: str, url: str) -> float:
    conn = _connect(url)
    try:
        dialect = "sqlite" if isinstance(conn, sqlite3.Connection) else "postgresql"
        sql = _baseline_sql(dialect, by, _cost_column(_columns(conn))[0])
        start = time.perf_counter()
        conn.execute(sql).fetchall()
        return time.perf_counter() - start
    finally:
        conn.close()


# --- the answers, checked -------------------------------------------------------------------

Sums = tuple[int, ...]  # calls, tokens in, tokens out, cost (10^-10 USD), unpriced calls


def _expected(url: str) -> dict[str, Counter[Sums]]:
    """Every grouping's sums, computed here from the rows themselves (not by the database and
    not by AADAP): for each grouping, how many groups have each set of sums."""
    tz = zoneinfo.ZoneInfo(TIMEZONE)
    acc: dict[str, defaultdict[Any, list[int]]] = {
        by: defaultdict(lambda: [0, 0, 0, 0, 0]) for by in GROUPINGS
    }
    for task, agent, provider, model, created, t_in, t_out, cost in _rows(url):
        local = created.astimezone(tz)
        iso = local.isocalendar()
        keys = (task, agent, (provider, model), local.date(), iso[:2], (local.year, local.month))
        for by, key in zip(GROUPINGS, keys, strict=True):
            sums = acc[by][key]
            sums[0] += 1
            sums[1] += t_in
            sums[2] += t_out
            if cost is None:
                sums[4] += 1
            else:
                sums[3] += cost
    return {by: Counter(tuple(v) for v in groups.values()) for by, groups in acc.items()}


def _rows(url: str) -> Iterator[tuple[Any, ...]]:
    """The seeded rows, streamed, with UTC-aware timestamps and costs in 10^-10 USD."""
    conn = _connect(url)
    cost = _cost_column(_columns(conn))[0]
    sql = (
        f"SELECT task_id, agent_type, provider, model, created_at, tokens_in, tokens_out, {cost} "
        "FROM cost_records"
    )
    try:
        # psycopg: a server-side cursor, so the rows stream instead of arriving at once
        cursor = conn.cursor() if isinstance(conn, sqlite3.Connection) else conn.cursor("rows")
        cursor.execute(sql)
        while batch := cursor.fetchmany(50_000):
            for *head, created, t_in, t_out, amount in batch:
                if isinstance(created, str):  # SQLite: naive UTC text
                    created = dt.datetime.fromisoformat(created).replace(tzinfo=dt.UTC)
                if amount is not None and cost == "cost_usd":
                    amount = int(Decimal(str(amount)) * 10**10)
                yield (*head, created, t_in, t_out, amount)
    finally:
        conn.close()


def _answered(stdout: str) -> Counter[Sums]:
    """The groups ``aadap costs --by X --format json`` printed, as :func:`_expected` counts them."""
    return Counter(
        (g["calls"], g["tokens_in"], g["tokens_out"],
         int(Decimal(g["cost_usd"] or 0) * 10**10), g["unpriced_calls"])
        for g in json.loads(stdout)
    )  # fmt: skip


def _check(env: dict[str, str]) -> list[str]:
    """Each grouping of ``aadap costs`` against :func:`_expected`, in a child: a child's
    peak memory, as Linux counts it, starts from its parent's size when it is spawned, and
    streaming the rows grows the process that reads them."""
    print("checking every grouping's sums against the rows ...", file=sys.stderr, flush=True)
    _, _, stdout = _run([sys.executable, str(Path(__file__).resolve()), "--child", "check"], env)
    return list(json.loads(stdout))


def _wrong_answers(url: str, env: dict[str, str]) -> list[str]:
    """What :func:`_check` runs: each grouping of ``aadap costs`` against :func:`_expected`."""
    expected = _expected(url)
    wrong = []
    aadap = str(Path(sys.executable).parent / "aadap")
    for by in GROUPINGS:
        _, _, stdout = _run([aadap, "costs", "--by", by, "--format", "json"], env)
        answered = _answered(stdout)
        if answered != expected[by]:
            wrong.append(
                f"aadap costs --by {by}: {sum(answered.values())} groups, "
                f"{len(answered - expected[by])} of them not as computed from the rows "
                f"({sum(expected[by].values())} groups expected)"
            )
    return wrong


# --- the parent -------------------------------------------------------------------------------


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``argv``; its wall seconds, its peak RSS in MB (``wait4``: this child's own) and
    its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise RuntimeError(f"{argv} failed: {err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / MB, out.read().decode()


def _measure(
    label: str, argv: list[str], env: dict[str, str], repeat: int, *, inner: bool
) -> dict[str, Any]:
    best: dict[str, Any] | None = None
    for _ in range(repeat):
        wall, peak, stdout = _run(argv, env)
        seconds = float(stdout.strip().splitlines()[-1]) if inner else wall
        if best is None or seconds < best["seconds"]:
            best = {"what": label, "seconds": seconds, "wall": wall, "peak_mb": peak}
    assert best is not None
    # as it goes, on stderr: a slow machine still shows what was measured
    print(
        f"{label}: {best['seconds']:.3f} s, {best['peak_mb']:.0f} MB", file=sys.stderr, flush=True
    )
    return best


def _env(url: str, home: Path, tree: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(tree),
        "AADAP_HOME": str(home),
        "AADAP_DATABASE_URL": url,
        "AADAP_TIMEZONE": TIMEZONE,
        "AADAP_BUDGETS_DAILY_USD": "1000000",
        "AADAP_BUDGETS_MONTHLY_USD": "10000000",
    }


def _migrate(url: str, home: Path, tree: Path) -> None:
    """``aadap db upgrade`` of the tree under test."""
    aadap = str(Path(sys.executable).parent / "aadap")
    subprocess.run([aadap, "db", "upgrade"], env=_env(url, home, tree), check=True)


def _bench(url: str, home: Path, repeat: int, tree: Path) -> list[dict[str, Any]]:
    env = _env(url, home, tree)
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    aadap = [str(Path(sys.executable).parent / "aadap")]
    results = []
    for by in GROUPINGS:
        results.append(
            _measure(f"aadap costs --by {by}", [*aadap, "costs", "--by", by, "--format", "json"],
                     env, repeat, inner=False)
        )  # fmt: skip
        results.append(_measure(f"query {by}", [*me, f"query {by}"], env, repeat, inner=True))
        results.append(_measure(f"baseline {by}", [*me, f"baseline {by}"], env, repeat, inner=True))
    for what in ("report", "watch", "new-task check"):
        results.append(_measure(what, [*me, what], env, repeat, inner=True))
    return results


def _load() -> str:
    return "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _print(title: str, seeded: float, results: list[dict[str, Any]], load: str) -> None:
    print(f"\n## {title} (seeded in {seeded:.1f} s; {load} before, {_load()} after)\n")
    print("| what | seconds | wall s | peak MB | ratio to baseline |")
    print("|---|---:|---:|---:|---:|")
    base = {r["what"].split()[1]: r["seconds"] for r in results if r["what"].startswith("baseline")}
    for r in results:
        ratio = ""
        if r["what"].startswith("query "):
            ratio = f"{r['seconds'] / base[r['what'].split()[1]]:.1f}x"
        print(
            f"| {r['what']} | {r['seconds']:.3f} | {r['wall']:.2f} | {r['peak_mb']:.0f} | {ratio} |"
        )


def _missed(results: list[dict[str, Any]], *, query_s: float, cli_s: float | None) -> list[str]:
    missed = []
    for r in results:
        name = r["what"]
        if name.startswith("baseline"):
            continue
        if name.startswith("aadap costs"):
            if cli_s is not None and r["wall"] > cli_s:
                missed.append(f"{name}: {r['wall']:.2f} s wall > {cli_s} s")
        elif r["seconds"] > query_s:
            missed.append(f"{name}: {r['seconds']:.3f} s > {query_s} s")
        if r["peak_mb"] > 300:
            missed.append(f"{name}: {r['peak_mb']:.0f} MB > 300 MB")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--ten-million", action="store_true", help="also 10 M rows on PostgreSQL")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout the children run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "check":
        print(json.dumps(_wrong_answers(os.environ["AADAP_DATABASE_URL"], dict(os.environ))))
        return 0
    if args.child:
        print(asyncio.run(_child(args.child, os.environ["AADAP_DATABASE_URL"])))
        return 0

    from benchmarks._servers import postgres_database

    runs: list[tuple[str, int]] = []
    for backend in args.backends.split(","):
        runs.append((backend, args.rows))
    if args.ten_million:
        runs.append(("postgres", 10_000_000))
    missed: list[str] = []
    print(f"tree {args.tree}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; time zone {TIMEZONE}")
    for backend, rows in runs:
        with tempfile.TemporaryDirectory(prefix="aadap-ledger-bench-") as tmp:
            home = Path(tmp)
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{home / 'ledger.db'}"
                _migrate(url, home, args.tree)
                seeded = _seed_sqlite(home / "ledger.db", rows)
                load = _load()
                results = _bench(url, home, args.repeat, args.tree)
                wrong = _check(_env(url, home, args.tree))
            else:
                with postgres_database("ledger_bench") as plain:
                    url = plain.replace("postgresql://", "postgresql+psycopg://")
                    _migrate(url, home, args.tree)
                    seeded = _seed_postgres(url, rows)
                    load = _load()
                    results = _bench(url, home, args.repeat, args.tree)
                    wrong = _check(_env(url, home, args.tree))
        _print(f"{backend}, {rows:,} rows", seeded, results, load)
        big = backend == "sqlite" or rows > 1_000_000
        if not wrong:
            print(f"\nEvery grouping's sums equal those computed here from the {rows:,} rows.")
        missed += [f"{backend} {rows:,}: WRONG {w}" for w in wrong]
        missed += [
            f"{backend} {rows:,}: {m}"
            for m in _missed(results, query_s=3.0 if big else 0.3, cli_s=None if big else 1.5)
        ]
    for m in missed:
        print(f"MISSED {m}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
