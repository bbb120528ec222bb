"""Run one corpus case end to end (every agent, offline) and judge its result."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import duckdb

from aadap.core.exceptions import LLMUnsupportedRequestError
from tests.agents.offline.paraphrases.corpus import TABLES, Case
from tests.agents.offline.paraphrases.reference import (
    DATA,
    HERE,
    Profiled,
    Refused,
    Rows,
    Sample,
    Tables,
    header,
    norm,
    whole,
)
from tests.agents.offline.pipeline import execute, run_request


@dataclass(frozen=True)
class Verdict:
    case: Case
    understood: bool
    correct: bool
    detail: str = ""
    seconds: float = 0.0


def seed(con: duckdb.DuckDBPyConnection) -> None:
    """The four tables as the CSV files hold them (hand-written SQL, not the code under test)."""
    for name in TABLES:
        path = str(DATA / f"{name}.csv").replace("'", "''")
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv_auto('{path}')")


async def judge(case: Case) -> Verdict:
    started = time.perf_counter()
    verdict = await _judge(case)
    return Verdict(
        case, verdict.understood, verdict.correct, verdict.detail, time.perf_counter() - started
    )


async def _judge(case: Case) -> Verdict:
    with duckdb.connect() as con:
        if case.kind != "load":
            seed(con)
        try:
            outcome = await run_request(case.text, con, working_dir=HERE)
        except LLMUnsupportedRequestError as exc:
            if isinstance(case.expect, Refused):
                missing = [w for w in case.expect.words if w not in exc.message]
                return Verdict(
                    case, False, not missing, f"refused; missing {missing}" * bool(missing)
                )
            return Verdict(case, False, False, exc.message)
        if isinstance(case.expect, Refused):
            return Verdict(case, True, False, f"not refused: {outcome.code.code}")
        target = outcome.requirement.target_table
        if case.table is not None and target != case.table:
            return Verdict(case, True, False, f"wrote {target!r}, not {case.table!r}")
        try:
            returned = execute(con, outcome)
            problem = _compare(con, case, target, returned)
        except (AssertionError, duckdb.Error) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            return Verdict(case, True, False, f"{problem}\n{outcome.code.code}")
        return Verdict(case, True, True)


def _compare(
    con: duckdb.DuckDBPyConnection, case: Case, target: str | None, returned: list[Any]
) -> str:
    expect = case.expect
    if isinstance(expect, Rows):
        if target is None:
            return "no table was written"
        columns = "*" if expect.columns is None else ", ".join(f'"{c}"' for c in expect.columns)
        got = con.execute(f'SELECT {columns} FROM "{target}"').fetchall()
        actual = Counter(tuple(norm(v) for v in row) for row in got)
        if actual != expect.rows:
            return f"rows differ: extra {actual - expect.rows}, missing {expect.rows - actual}"
        return ""
    if isinstance(expect, Sample):
        allowed = whole(expect.table).rows
        rows = [tuple(norm(v) for v in row) for row in returned]
        if len(rows) != expect.n:
            return f"{len(rows)} rows returned, not {expect.n}"
        strangers = [row for row in rows if row not in allowed]
        return f"rows not in {expect.table}: {strangers}" if strangers else ""
    if isinstance(expect, Tables):
        listed = {str(row[1]) for row in returned}
        return "" if expect.names <= listed else f"listed {sorted(listed)}"
    if isinstance(expect, Profiled):
        wanted = len(header(expect.table))
        return "" if len(returned) == wanted else f"{len(returned)} profile rows, not {wanted}"
    return f"unexpected expectation {expect!r}"
