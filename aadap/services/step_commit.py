"""PostgreSQL: a step's writes, its moves and the queued trail rows, in one statement.

A step ends by storing what it produced and moving the task on. In a transaction
that is a BEGIN, the statements the hooks queued (``Database.defer``: the previous
step's cost-row settlement, the attempt and completion log rows), the step's own
INSERTs and UPDATEs, the move, and a COMMIT: one round trip each. On PostgreSQL all of
it fits in one statement, run in autocommit, which is atomic by itself:

    WITH moved AS (UPDATE tasks SET current_state = <last hop> [, totals + the cost row's]
                   WHERE id = :task AND current_state = :expected
                     [AND <the newest version of the output artifact holds other content>]
                   RETURNING id, tokens_used, cost_usd),
         stored_artifact AS (INSERT INTO artifacts … SELECT … FROM moved RETURNING …),
         also_artifacts AS (INSERT INTO artifacts … FROM jsonb_populate_recordset(…) JOIN moved
                            WHERE <each one's newest version holds other content>),
         rows_<table> AS (INSERT INTO <table> … FROM jsonb_populate_recordset(…) JOIN moved),
         set_<table> AS (UPDATE <table> … FROM jsonb_populate_record(…) WHERE id = …
                         AND EXISTS (SELECT FROM moved)),
         logged AS (INSERT INTO task_logs … FROM jsonb_populate_recordset(…, :rows)),
         settled AS (UPDATE cost_records SET status = … WHERE task_run_id = …
                     [AND EXISTS (SELECT FROM moved): the step's own calls])
    INSERT INTO state_transitions … SELECT … FROM moved [UNION ALL …] RETURNING …

Everything the step writes comes from ``moved``: if the compare-and-set moves nothing,
nothing of it is written, as the transaction would have rolled back. The trail rows
are written either way, as the queue's next transaction would have. The first ledger
row's metadata takes the output artifact's version from ``stored_artifact``, so it says
what the transaction's says. Rows travel as JSON (one parameter per table), so a
statement's shape depends only on which tables it writes, and is built once.

Nothing moved means a stale expected state or an output artifact whose newest version
holds the same content (a resumed step that produced the same output): :func:`commit`
returns None and the caller takes its transaction path, which handles both exactly as
before. So does a queue holding anything else than log rows and one settlement.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, exists, func, literal_column, select, true

from aadap.core.states import TaskState
from aadap.db.base import Base, column_values, filled_values
from aadap.db.models import Artifact, CostRecord, Task, TaskLog
from aadap.db.session import Database
from aadap.db.types import UsdE10, usd_to_e10
from aadap.services import artifacts, costs, ledger

_LOGS: Table = TaskLog.__table__  # type: ignore[assignment]
_ARTIFACTS: Table = Artifact.__table__  # type: ignore[assignment]


def _records(table: Table, param: str, *, many: bool = True) -> Any:
    """``jsonb_populate_record[set](NULL::table, :param)`` as a table of ``table``'s
    columns: the rows of one JSON parameter, typed as the table's."""
    from sqlalchemy.dialects.postgresql import JSONB  # PostgreSQL only: a SQLite run never loads it

    populate = func.jsonb_populate_recordset if many else func.jsonb_populate_record
    return populate(
        literal_column(f"NULL::{table.name}"), bindparam(param, type_=JSONB)
    ).table_valued(*(c.name for c in table.columns))


def _insert(table: Table, param: str, moved: Any | None = None, *, many: bool = True) -> Any:
    """INSERT of the row(s) in the JSON parameter ``param``; only if the CTE ``moved``
    returned a row, unless it is None."""
    columns = [c.name for c in table.columns]
    records = _records(table, param, many=many)
    source = records if moved is None else records.join(moved, true())
    return table.insert().from_select(
        columns, select(*(records.c[c] for c in columns)).select_from(source)
    )


def _inserted(table: Table, name: str, moved: Any | None) -> Any:
    """:func:`_insert` of the rows in ``<name>_`` as the CTE ``name`` (``moved`` None: the
    trail rows, written either way)."""
    return _insert(table, f"{name}_", moved).cte(name)


_TASKS: Table = Task.__table__  # type: ignore[assignment]
#: hops -> the statement that creates a task and appends its first moves
_CREATES: dict[int, Any] = {}


def _create_statement(hops: int) -> Any:
    statement = _CREATES.get(hops)
    if statement is None:
        created = _insert(_TASKS, "task_", many=False).returning(_TASKS.c.id).cte("created")
        statement = _CREATES[hops] = ledger.append_statement(created.c.id, hops)
    return statement


async def create(db: Database, task: Task, hops: Sequence[ledger.Hop]) -> bool:
    """PostgreSQL: insert the new ``task`` (Python-side defaults applied), already in the
    last hop's state, and the ledger rows of ``hops`` from SUBMITTED, in one statement,
    atomic by itself: one round trip where a transaction took four. Returns False,
    having done nothing, on any other database, with no hops, or with rows queued for a
    transaction (``Database.defer``)."""
    if db.engine.dialect.name != "postgresql" or not hops or db.pending:
        return False
    task.current_state = hops[-1].to_state.value
    values = _json_row(filled_values(task))
    path = ledger.Path.of(task.id, TaskState.SUBMITTED, hops)
    async with db.sessions() as session:
        seqs = (
            await session.execute(_create_statement(len(hops)), {**path.params, "task_": values})
        ).scalars()
        path.rows(list(seqs))  # reports each move (``progress``)
    return True


def _newer_artifacts(moved: Any) -> Any:
    """INSERT of the artifacts in ``also_artifacts_``, each the next version of its (task,
    type, name) chained to the newest, unless the newest holds the same content (what
    :func:`artifacts.store` does for one)."""
    columns = [c.name for c in _ARTIFACTS.columns]
    records = _records(_ARTIFACTS, "also_artifacts_")

    def newest(column: str) -> Any:
        key = (records.c.task_id, records.c.artifact_type, records.c.name)
        return artifacts.newest_of_key(_ARTIFACTS.c[column], *key)

    values = {c: records.c[c] for c in columns}
    values["version"] = func.coalesce(newest("version"), 0) + 1
    values["parent_id"] = newest("id")
    return (
        _ARTIFACTS.insert()
        .from_select(
            columns,
            select(*(values[c] for c in columns))
            .select_from(records.join(moved, true()))
            .where(func.coalesce(newest("content_hash"), "") != records.c.content_hash),
        )
        .cte("also_artifacts")
    )


def _updated(table: Table, columns: tuple[str, ...], moved: Any) -> Any:
    """UPDATE of ``columns`` of the row whose id and new values are in ``set_<table>_``,
    only if ``moved`` returned a row."""
    values = _records(table, f"set_{table.name}_", many=False)
    return (
        table.update()
        .values({c: values.c[c] for c in columns})
        .where(table.c.id == values.c.id, exists(select(moved.c.id)))
        .cte(f"set_{table.name}")
    )


@dataclass(frozen=True)
class _Shape:
    hops: int
    output: bool  # a checked, versioned output artifact (``stored_artifact``)
    also: bool  # more artifacts (``also_artifacts``)
    rows: tuple[Table, ...]
    updates: tuple[tuple[Table, tuple[str, ...]], ...]
    totals: bool  # the move adds a cost row's tokens and cost to the task's totals
    logs: bool
    settle: bool
    settle_if_moved: bool = False  # the step's own settlement: only with the step's finish


#: the statement of each shape, built on first use
_STATEMENTS: dict[_Shape, Any] = {}


def _statement(shape: _Shape) -> Any:
    statement = _STATEMENTS.get(shape)
    if statement is not None:
        return statement
    moved = ledger.move_cte(
        artifacts.differs_from_newest() if shape.output else None, totals=shape.totals
    )
    first_metadata = returning = None
    ctes: list[Any] = []
    if shape.output:
        stored = artifacts.store_after(moved)
        version = select(stored.c.version).scalar_subquery()
        from sqlalchemy.dialects.postgresql import JSONB

        first_metadata = bindparam("metadata_0", type_=JSONB).op("||")(
            func.jsonb_build_object("version", version)
        )
        returning = [version, select(stored.c.parent_id).scalar_subquery()]
    statement = ledger.append_statement(moved.c.id, shape.hops, first_metadata)
    if returning:
        statement = statement.returning(*returning)
    if shape.totals:
        statement = statement.returning(
            select(moved.c.tokens_used).scalar_subquery(),
            select(moved.c.cost_usd).scalar_subquery(),
        )
    if shape.also:
        ctes.append(_newer_artifacts(moved))
    ctes += [_inserted(table, f"rows_{table.name}", moved) for table in shape.rows]
    ctes += [_updated(table, columns, moved) for table, columns in shape.updates]
    if shape.logs:
        ctes.append(_inserted(_LOGS, "logged", None))
    if shape.settle:
        settle = costs.SETTLE
        if shape.settle_if_moved:
            settle = settle.where(exists(select(moved.c.id)))
        ctes.append(settle.cte("settled"))
    if ctes:
        statement = statement.add_cte(*ctes)
    _STATEMENTS[shape] = statement
    return statement


def _json_value(value: Any) -> Any:
    """A column value as JSON (JSON columns are JSON already)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _json_row(values: Mapping[str, Any], table: Table | None = None) -> dict[str, Any]:
    """``values`` as JSON; with ``table``, a USD amount as its stored integer (``UsdE10``)."""
    return {
        name: _json_value(
            value
            if table is None or not isinstance(table.c[name].type, UsdE10)
            else usd_to_e10(value)
        )
        for name, value in values.items()
    }


@dataclass(frozen=True)
class Committed:
    """What a commit stored: the output artifact (its version and parent set; the newest
    version instead where that held the same content) and the task's new totals, where
    asked for."""

    output: Artifact | None
    totals: tuple[int, Decimal] | None


async def commit(
    db: Database,
    *,
    task_id: uuid.UUID,
    expected_from: TaskState,
    hops: Sequence[ledger.Hop],
    output: Artifact | None = None,
    also: Sequence[Artifact] = (),
    rows: Sequence[Base] = (),
    updates: Sequence[tuple[Table, uuid.UUID, Mapping[str, Any]]] = (),
    cost_row: CostRecord | None = None,
    settle: dict[str, Any] | None = None,
) -> Committed | None:
    """Move through ``hops`` from ``expected_from`` with the queued trail rows, in one
    statement, and only if the move happens, write what ``Lifecycle.commit`` describes.
    ``settle``: the parameters of the step's own settlement (``costs.settle_attempts``),
    written with the move as a queued one is.
    Here the move happens only if ``output``'s newest version holds other content, and
    rows bypass the ORM (Python-side defaults applied).

    Returns None, having written nothing, on any other database than PostgreSQL, for
    what one statement cannot number or name (two ``also`` artifacts of one type and
    name, two ``updates`` of one table) and for a queue holding anything but log rows
    and one settlement (none if ``settle`` is given); and None, having written only the queued trail rows, if nothing
    moved. The caller then runs its transaction."""
    if db.engine.dialect.name != "postgresql" or not hops:
        return None
    # one CTE per updated table, one version per (type, name) in a statement's snapshot:
    # anything else takes the transaction
    if len({table for table, _, _ in updates}) < len(updates) or len(
        {(a.artifact_type, a.name) for a in also}
    ) < len(also):
        return None
    taken = db.take_deferred()
    log_rows: list[dict[str, Any]] = []
    own_settlement = settle is not None
    for statement, queued, table in taken:
        if table is _LOGS:
            log_rows = queued
        elif table is None and statement is costs.SETTLE and settle is None:
            settle = queued
        else:
            db.requeue(taken)
            return None
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for row in [*rows, *([] if cost_row is None else [cost_row])]:
        by_table.setdefault(row.__table__, []).append(_json_row(filled_values(row), row.__table__))  # type: ignore[arg-type]
    shape = _Shape(
        hops=len(hops),
        output=output is not None,
        also=bool(also),
        rows=tuple(by_table),
        updates=tuple((table, tuple(sorted(values))) for table, _, values in updates),
        totals=cost_row is not None,
        logs=bool(log_rows),
        settle=settle is not None,
        settle_if_moved=own_settlement,
    )
    path = ledger.Path.of(task_id, expected_from, hops)
    params: dict[str, Any] = {**path.params, **(settle or {})}
    if output is not None:
        params.update(artifacts.params_for(output))
    if also:
        params["also_artifacts_"] = [_json_row(column_values(row)) for row in also]
    for table, table_rows in by_table.items():
        params[f"rows_{table.name}_"] = table_rows
    for table, row_id, values in updates:
        params[f"set_{table.name}_"] = _json_row({**values, "id": row_id})
    if cost_row is not None:
        params["tokens_"], params["cost_"] = costs.added_by(cost_row)
    if log_rows:
        params["logged_"] = [_json_row(r) for r in log_rows]
    try:
        async with db.sessions() as session:  # autocommit: the statement is atomic
            result = (await session.execute(_statement(shape), params)).all()
    except BaseException:
        db.requeue(taken)
        raise
    if not result:
        return None
    path.rows([r[0] for r in result])  # reports each move (``progress``)
    totals = None
    if output is not None:
        output.version, output.parent_id = result[0][1], result[0][2]
    if cost_row is not None:
        totals = (int(result[0][-2]), Decimal(result[0][-1]))
    return Committed(output, totals)


__all__ = ["Committed", "commit", "create"]
