"""Requirement → one DuckDB SQL statement.

Identifiers are quoted when they are not plain names or collide with a DuckDB keyword;
string literals (file paths, filter values) are single-quoted with quotes doubled.
Multi-step pipelines become one ``CREATE TABLE … AS WITH …`` statement.
"""

from __future__ import annotations

import functools
import re

import duckdb

from aadap.agents.offline._join import projection
from aadap.agents.offline._metrics import output_columns, time_alias
from aadap.agents.offline._schema import READERS
from aadap.agents.schemas import (
    AggregateOp,
    Aggregation,
    Condition,
    DeduplicateOp,
    FilterOp,
    JoinOp,
    Operation,
    Requirement,
    Scalar,
    Source,
)

LIST_TABLES_SQL = (
    "SELECT table_schema, table_name, table_type\n"
    "FROM information_schema.tables\n"
    "WHERE table_schema NOT IN ('information_schema', 'pg_catalog')\n"
    "ORDER BY table_schema, table_name"
)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CTE_NAMES = {
    "filter": "filtered",
    "deduplicate": "deduplicated",
    "aggregate": "aggregated",
    "join": "joined",
}


@functools.cache
def _keywords() -> frozenset[str]:
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'unreserved'"
        ).fetchall()
    return frozenset(str(row[0]).lower() for row in rows)


def ident(name: str) -> str:
    """Quote one identifier, or each part of a dotted ``schema.table`` name."""
    parts = name.split(".") if all(_PLAIN.fullmatch(p) for p in name.split(".")) else [name]
    return ".".join(
        part if _PLAIN.fullmatch(part) and part.lower() not in _keywords() else _quoted(part)
        for part in parts
    )


def _quoted(part: str) -> str:
    escaped = part.replace('"', '""')
    return f'"{escaped}"'


def literal(value: Scalar) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    escaped = value.replace("'", "''")
    return f"'{escaped}'"


def source_sql(source: Source) -> str:
    if source.kind == "file" and source.path and source.format:
        return f"{READERS[source.format]}({literal(source.path)})"
    return ident(source.name)


def render(requirement: Requirement) -> str:
    """The statement for ``requirement`` (intent decides the statement's shape)."""
    if requirement.intent == "run_sql" and requirement.sql:
        return requirement.sql.strip()
    if requirement.intent == "list_tables":
        return LIST_TABLES_SQL
    first = requirement.sources[0]
    if requirement.intent == "profile":
        relation = source_sql(first)
        return (
            f"SUMMARIZE {relation}"
            if first.kind == "table"
            else f"SUMMARIZE SELECT * FROM {relation}"
        )
    query = pipeline_query(requirement)
    if requirement.intent == "preview" or requirement.target_table is None:
        return f"{query}\nLIMIT {requirement.limit or 10}"
    verb = "CREATE OR REPLACE TABLE" if requirement.write_mode == "replace" else "CREATE TABLE"
    return f"{verb} {ident(requirement.target_table)} AS\n{query}"


def pipeline_query(requirement: Requirement) -> str:
    """The SELECT (with CTEs for multi-step pipelines) producing the final rows."""
    sources = {source.name: source for source in requirement.sources}
    current = source_sql(requirement.sources[0])
    columns: list[str] | None = list(requirement.sources[0].columns) or None
    steps: list[tuple[str, str]] = []
    order_by = ""
    for index, op in enumerate(requirement.operations):
        select, columns = _step(op, current, columns, sources)
        order_by = _order(op)
        name = _CTE_NAMES[op.kind]
        if any(existing == name for existing, _ in steps):
            name = f"{name}_{index + 1}"
        steps.append((name, select))
        current = name
    if not steps:
        return f"SELECT *\nFROM {current}"
    if len(steps) == 1:
        return steps[0][1] + order_by
    ctes = ",\n".join(
        f"{name} AS (\n  {body.replace(chr(10), chr(10) + '  ')}\n)" for name, body in steps
    )
    return f"WITH {ctes}\nSELECT *\nFROM {current}{order_by}"


def _step(
    op: Operation, current: str, columns: list[str] | None, sources: dict[str, Source]
) -> tuple[str, list[str] | None]:
    if isinstance(op, FilterOp):
        where = " AND ".join(_condition(c) for c in op.conditions)
        where = f"NOT ({where})" if op.negate else where
        return f"SELECT *\nFROM {current}\nWHERE {where}", columns
    if isinstance(op, DeduplicateOp):
        return _dedupe(op, current), columns
    if isinstance(op, AggregateOp):
        return _aggregate(op, current), output_columns(op)
    return _join(op, current, columns, sources[op.right])


def _condition(condition: Condition) -> str:
    column = ident(condition.column)
    if condition.op in ("is null", "is not null"):
        return f"{column} {condition.op.upper()}"
    if isinstance(condition.value, list):
        items = ", ".join(literal(v) for v in condition.value)
        return f"{column} {condition.op.upper()} ({items})"
    if condition.value is None:  # excluded by the model; keeps the types honest
        return f"{column} IS NULL"
    op = "LIKE" if condition.op == "like" else condition.op
    return f"{column} {op} {literal(condition.value)}"


def _dedupe(op: DeduplicateOp, current: str) -> str:
    if not op.keys:
        return f"SELECT DISTINCT *\nFROM {current}"
    keys = ", ".join(ident(k) for k in op.keys)
    if op.order_by:
        direction = "DESC" if op.keep == "latest" else "ASC"
        order = f"{ident(op.order_by)} {direction} NULLS LAST"
    else:
        order = keys
    window = f"row_number() OVER (PARTITION BY {keys} ORDER BY {order})"
    return f"SELECT *\nFROM {current}\nQUALIFY {window} = 1"


def _aggregate(op: AggregateOp, current: str) -> str:
    select = []
    if op.time_column and op.time_grain:
        bucket = f"date_trunc('{op.time_grain}', {ident(op.time_column)})"
        if op.time_grain != "hour":
            bucket = f"CAST({bucket} AS DATE)"
        select.append(f"{bucket} AS {ident(time_alias(op.time_column, op.time_grain))}")
    select += [ident(column) for column in op.group_by]
    select += [f"{_measure(a)} AS {ident(a.alias)}" for a in op.aggregations]
    grouped = len(select) > len(op.aggregations)
    body = f"SELECT {', '.join(select)}\nFROM {current}"
    return body + ("\nGROUP BY ALL" if grouped else "")


def _measure(aggregation: Aggregation) -> str:
    if aggregation.column is None:
        return "count(*)"
    column = ident(aggregation.column)
    if aggregation.function == "count_distinct":
        return f"count(DISTINCT {column})"
    return f"{aggregation.function}({column})"


def _order(op: Operation) -> str:
    if not isinstance(op, AggregateOp):
        return ""
    keys = [time_alias(op.time_column, op.time_grain)] if op.time_column and op.time_grain else []
    keys += list(op.group_by)
    return f"\nORDER BY {', '.join(ident(k) for k in keys)}" if keys else ""


def _join(
    op: JoinOp, current: str, columns: list[str] | None, right: Source
) -> tuple[str, list[str] | None]:
    on = " AND ".join(f"l.{ident(k.left)} = r.{ident(k.right)}" for k in op.on)
    how = {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL JOIN"}[op.how]
    tail = f"FROM {current} AS l\n{how} {source_sql(right)} AS r ON {on}"
    if columns is None or not right.columns:
        same = [k.right for k in op.on if k.left.lower() == k.right.lower()]
        excluded = f" EXCLUDE ({', '.join(ident(c) for c in same)})" if same else ""
        return f"SELECT l.*, r.*{excluded}\n{tail}", None
    coalesced = {k.left.lower(): k.right for k in op.on if k.left.lower() == k.right.lower()}
    items = []
    projected = projection(columns, list(right.columns), op)
    for side, column, name in projected:
        expr = f"{side}.{ident(column)}"
        if side == "l" and op.how in ("right", "full") and column.lower() in coalesced:
            expr = f"coalesce(l.{ident(column)}, r.{ident(coalesced[column.lower()])})"
        items.append(
            expr if name == column and expr.startswith(side) else f"{expr} AS {ident(name)}"
        )
    return f"SELECT {', '.join(items)}\n{tail}", [name for _, _, name in projected]
