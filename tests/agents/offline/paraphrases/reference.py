"""Expected results for the paraphrase corpus, computed in plain Python from the CSV files.

Nothing here uses DuckDB or the code under test: rows are read with :mod:`csv`, filtered,
grouped and joined by hand, and compared with what the generated SQL produced.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
Row = dict[str, str]


def rows(name: str) -> list[Row]:
    with (DATA / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def header(name: str) -> list[str]:
    with (DATA / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def norm(value: Any) -> Any:
    """One comparable form for a CSV cell and a DuckDB value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return round(float(value), 4)
    if isinstance(value, dt.date):  # datetime too: "YYYY-MM-DD HH:MM:SS"
        return str(value)
    try:
        return round(float(value), 4)
    except ValueError:
        return str(value)


# --- what a case expects --------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """The result (the table written, or the rows returned) projected on ``columns``
    (all columns, in order, when ``None``) is exactly this multiset of rows."""

    columns: tuple[str, ...] | None
    rows: Counter[tuple[Any, ...]]


@dataclass(frozen=True)
class Sample:
    """``n`` rows returned, each one of the rows of ``table`` (all columns)."""

    n: int
    table: str


@dataclass(frozen=True)
class Tables:
    """A table listing that includes these names."""

    names: frozenset[str]


@dataclass(frozen=True)
class Profiled:
    """A profile: one row of statistics per column of ``table``."""

    table: str


@dataclass(frozen=True)
class Refused:
    """The request must be refused, and the message must name every one of ``words``."""

    words: tuple[str, ...]


Expect = Rows | Sample | Tables | Profiled | Refused


def whole(table: str, keep: Callable[[Row], bool] = lambda _: True) -> Rows:
    """Every column of ``table``, the rows ``keep`` accepts."""
    columns = header(table)
    return Rows(None, Counter(tuple(norm(r[c]) for c in columns) for r in rows(table) if keep(r)))


def projected(columns: Iterable[str], source: Iterable[Row]) -> Rows:
    cols = tuple(columns)
    return Rows(cols, Counter(tuple(norm(r[c]) for c in cols) for r in source))


def grouped(
    table: str,
    key: Callable[[Row], tuple[Any, ...]],
    measure: Callable[[list[Row]], float],
    source: list[Row] | None = None,
) -> Rows:
    """Aggregate output rows: the group values then the measure (all columns, in order)."""
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in rows(table) if source is None else source:
        groups[key(row)].append(row)
    return Rows(None, Counter(tuple(norm(v) for v in (*k, measure(g))) for k, g in groups.items()))


def single(value: float) -> Rows:
    return Rows(None, Counter([(norm(value),)]))


def total(column: str) -> Callable[[list[Row]], float]:
    return lambda group: sum(float(r[column]) for r in group)


def average(column: str) -> Callable[[list[Row]], float]:
    return lambda group: sum(float(r[column]) for r in group) / len(group)


def count(group: list[Row]) -> float:
    return len(group)


def maximum(column: str) -> Callable[[list[Row]], float]:
    return lambda group: max(float(r[column]) for r in group)


def newest(table: str, key: str, by: str, *, earliest: bool = False) -> list[Row]:
    chosen: dict[str, Row] = {}
    for row in rows(table):
        kept = chosen.get(row[key])
        if kept is None or ((row[by] < kept[by]) if earliest else (row[by] > kept[by])):
            chosen[row[key]] = row
    return list(chosen.values())


def distinct(table: str) -> Rows:
    columns = header(table)
    unique = {tuple(norm(r[c]) for c in columns) for r in rows(table)}
    return Rows(None, Counter(unique))


def joined(left: str, right: str, key: str, columns: tuple[str, ...]) -> Rows:
    """An inner join on ``key``, projected on ``columns`` (taken from either side)."""
    by_key = defaultdict(list)
    for row in rows(right):
        by_key[row[key]].append(row)
    out = [{**r, **row} for row in rows(left) for r in by_key[row[key]]]
    return projected(columns, out)


def semi(left: str, right: str, key: str, keep: Callable[[Row], bool]) -> Rows:
    """The rows of ``left`` (its own columns) whose ``key`` appears in the kept ``right`` rows."""
    keys = {r[key] for r in rows(right) if keep(r)}
    return projected(header(left), [r for r in rows(left) if r[key] in keys])


def month(value: str) -> str:
    return value[:7] + "-01"
