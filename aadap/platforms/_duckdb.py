"""Synchronous DuckDB work for the local platform (called through ``asyncio.to_thread``).

Each call opens its own connection to the database file and closes it, so no
connection is shared between threads.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from aadap.core import locks
from aadap.core.exceptions import (
    InvalidDataError,
    PlatformBusyError,
    PlatformConnectionError,
    PlatformTimeoutError,
)
from aadap.platforms._csv_inputs import check_csv_inputs
from aadap.platforms._sandbox import SqlLimits, confine
from aadap.platforms.protocol import PREVIEW_ROWS, TableInfo, same_table

# Statement types whose result is a single "Count" column of affected rows.
_COUNTING = {"INSERT", "UPDATE", "DELETE", "CREATE", "MERGE_INTO", "COPY"}
_COUNT_BATCH = 10_000


@dataclass(slots=True)
class SqlOutcome:
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_count: int | None = None
    rows_affected: int | None = None
    statements: list[str] = field(default_factory=list)
    error: str | None = None


@contextmanager
def connection(database: Path, limits: SqlLimits, readable: Sequence[str] = ()) -> Iterator[Any]:
    """A sandboxed connection to ``database`` (:func:`aadap.platforms._sandbox.confine`:
    ``readable`` are the files it may read) that no other process or thread holds meanwhile.

    DuckDB admits one process with the file open for writing; the others fail at once
    ("Could not set lock on file"). Every AADAP process sharing the file waits its turn
    on a lock beside it instead (:mod:`aadap.core.locks`), up to
    ``limits.lock_timeout_seconds``: then, or when a process outside AADAP holds DuckDB's
    own lock, the error is ``PlatformBusyError`` (retryable: nothing ran). A bad file, or
    a DuckDB that refuses the sandbox's settings, is ``PlatformConnectionError``.
    """
    wait = limits.lock_timeout_seconds
    with ExitStack() as stack:
        try:
            stack.enter_context(locks.hold(database, wait=wait))
        except TimeoutError as exc:
            raise PlatformBusyError(
                f"the local DuckDB database {database} stayed busy with another run for "
                f"{wait:g}s (AADAP_PLATFORMS_LOCAL_LOCK_TIMEOUT_SECONDS)",
                details={"platform": "local", "database": str(database)},
            ) from exc
        try:
            con = duckdb.connect(str(database))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise _unusable(database, exc) from exc
            raise PlatformBusyError(
                f"the local DuckDB database {database} is held by another program: {exc}",
                details={"platform": "local", "database": str(database)},
            ) from exc
        except duckdb.Error as exc:
            raise _unusable(database, exc) from exc
        stack.callback(con.close)
        try:
            confine(con, limits, readable)
        except duckdb.Error as exc:
            raise _unusable(database, exc) from exc
        yield con


def _unusable(database: Path, exc: Exception) -> PlatformConnectionError:
    return PlatformConnectionError(
        f"cannot open the local DuckDB database {database}: {exc}",
        details={"platform": "local", "database": str(database)},
    )


def json_safe(value: Any) -> Any:
    """A DuckDB value as something ``json.dumps`` accepts without losing meaning."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    return str(value)


def _statement_type(statement: Any) -> str:
    return str(getattr(statement.type, "name", statement.type))


def execute_sql(
    database: Path, sql: str, parameters: Mapping[str, str] | None, limits: SqlLimits
) -> SqlOutcome:
    """Run every statement of ``sql``; report the affected rows and the last query's preview.

    A DuckDB error stops the script and is reported in ``error`` (statements
    before it stay applied, as they would on any SQL engine in autocommit). A CSV file
    the script names that would not be read correctly is refused before anything runs,
    and a CSV row DuckDB's strict reader rejects while running is reported the same way:
    ``InvalidDataError``. A script still running after ``limits.timeout_seconds`` is
    interrupted: ``PlatformTimeoutError``.
    """
    readable = limits.readable(sql)
    check_csv_inputs(readable)
    outcome = SqlOutcome()
    params = dict(parameters or {})
    with connection(database, limits, readable) as con:
        timer = threading.Timer(limits.timeout_seconds, con.interrupt)
        timer.start()
        try:
            return _execute(con, sql, params, outcome)
        except duckdb.InterruptException as exc:
            raise PlatformTimeoutError(
                f"the local SQL script was interrupted after {limits.timeout_seconds:g}s "
                "(AADAP_PLATFORMS_LOCAL_SQL_TIMEOUT_SECONDS)",
                details={
                    "platform": "local",
                    "statements": outcome.statements,
                    "timeout_seconds": limits.timeout_seconds,
                },
            ) from exc
        finally:
            timer.cancel()


def _execute(con: Any, sql: str, params: dict[str, str], outcome: SqlOutcome) -> SqlOutcome:
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        outcome.error = str(exc)
        return outcome
    for statement in statements:
        kind = _statement_type(statement)
        outcome.statements.append(kind)
        needed = {name: params[name] for name in statement.named_parameters if name in params}
        try:
            cursor = con.execute(statement, needed) if needed else con.execute(statement)
            _collect(cursor, kind, outcome)
        except duckdb.InterruptException:
            raise  # the timeout's: reported by the caller
        except duckdb.InvalidInputException as exc:
            if "CSV Error" in str(exc):
                raise InvalidDataError(
                    f"statement {len(outcome.statements)} ({kind}) stopped on a bad CSV row: {exc}",
                    details={"field": "data_file", "statements": outcome.statements},
                ) from exc
            outcome.error = f"statement {len(outcome.statements)} ({kind}): {exc}"
            return outcome
        except duckdb.Error as exc:
            outcome.error = f"statement {len(outcome.statements)} ({kind}): {exc}"
            return outcome
    return outcome


def _collect(cursor: Any, kind: str, outcome: SqlOutcome) -> None:
    description = cursor.description
    if not description:
        return
    columns = [str(col[0]) for col in description]
    if kind in _COUNTING and columns == ["Count"]:
        row = cursor.fetchone()
        count = int(row[0]) if row and row[0] is not None else 0
        outcome.rows_affected = (outcome.rows_affected or 0) + count
        return
    preview = cursor.fetchmany(PREVIEW_ROWS)
    total = len(preview)
    while batch := cursor.fetchmany(_COUNT_BATCH):
        total += len(batch)
    outcome.columns = columns
    outcome.rows = [
        {name: json_safe(value) for name, value in zip(columns, row, strict=True)}
        for row in preview
    ]
    outcome.row_count = total


def _rows(
    database: Path, query: str, limits: SqlLimits, parameters: dict[str, str] | None = None
) -> list[tuple[Any, ...]]:
    with connection(database, limits) as con:
        return list(con.execute(query, parameters).fetchall())


def list_tables(database: Path, limits: SqlLimits) -> list[str]:
    """``schema.table`` for every user table and view (``table`` alone in ``main``)."""
    rows = _rows(
        database,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('information_schema', 'pg_catalog') "
        "ORDER BY table_schema, table_name",
        limits,
    )
    return [name if schema == "main" else f"{schema}.{name}" for schema, name in rows]


def schema(database: Path, limits: SqlLimits) -> dict[str, list[str]]:
    """Column names of every user table and view, keyed as :func:`list_tables` names
    them: one connection and one query (opening DuckDB is the expensive part)."""
    rows = _rows(
        database,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema NOT IN ('information_schema', 'pg_catalog') "
        "ORDER BY table_schema, table_name, ordinal_position",
        limits,
    )
    tables: dict[str, list[str]] = {}
    for schema_name, name, column in rows:
        key = name if schema_name == "main" else f"{schema_name}.{name}"
        tables.setdefault(key, []).append(str(column))
    return tables


def table_columns(database: Path, table: str, limits: SqlLimits) -> list[dict[str, str]]:
    """``[{"name", "type"}]`` for ``table`` (``schema.table`` or ``table``); empty if unknown."""
    schema, _, name = table.rpartition(".")
    rows = _rows(
        database,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = $schema AND table_name = $name ORDER BY ordinal_position",
        limits,
        parameters={"schema": schema or "main", "name": name},
    )
    return [{"name": str(column), "type": str(kind)} for column, kind in rows]


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_info(database: Path, names: Sequence[str], limits: SqlLimits) -> list[TableInfo]:
    """Existence of each of ``names`` and the exact row count of each base table (a view is
    not counted: it may read a large file), on one connection."""
    with connection(database, limits) as con:
        listed = {
            (name if schema_ == "main" else f"{schema_}.{name}"): (schema_, name, kind)
            for schema_, name, kind in con.execute(
                "SELECT table_schema, table_name, table_type FROM information_schema.tables "
                "WHERE table_schema NOT IN ('information_schema', 'pg_catalog')"
            ).fetchall()
        }
        out = []
        for wanted in names:
            found = next((key for key in sorted(listed) if same_table(wanted, key)), None)
            rows = None
            if found is not None and listed[found][2] == "BASE TABLE":
                schema_, name, _ = listed[found]
                counted = con.execute(
                    f"SELECT count(*) FROM {_quoted(schema_)}.{_quoted(name)}"
                ).fetchone()
                rows = int(counted[0]) if counted else None
            out.append(TableInfo(name=wanted, exists=found is not None, rows=rows, found_as=found))
        return out


__all__ = [
    "SqlOutcome", "connection", "execute_sql", "json_safe", "list_tables", "schema",
    "table_columns", "table_info",
]  # fmt: skip
