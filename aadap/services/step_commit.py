"""PostgreSQL: a step's output, its moves and the queued trail rows, in one statement.

A step ends by storing its output artifact and moving the task on (``Lifecycle.
finish_step``). In a transaction that is a BEGIN, the statements the hooks queued
(``Database.defer``: the previous step's cost-row settlement, the attempt and
completion log rows), the artifact INSERT, the move, and a COMMIT: five or six round
trips, once per step. On PostgreSQL all of it fits in one statement, run in
autocommit, which is atomic by itself:

    WITH moved AS (UPDATE tasks SET current_state = <last hop>
                   WHERE id = :task AND current_state = :expected
                     AND <the newest version of the artifact holds other content>
                   RETURNING id),
         stored_artifact AS (INSERT INTO artifacts … SELECT … FROM moved RETURNING …),
         logged AS (INSERT INTO task_logs … FROM jsonb_populate_recordset(…, :rows)),
         settled AS (UPDATE cost_records SET status = … WHERE task_run_id = … )
    INSERT INTO state_transitions … SELECT … FROM moved [UNION ALL …] RETURNING …

The artifact and the ledger rows come from ``moved``: if the compare-and-set moves
nothing, neither is written, as in the transaction. The trail rows are written either
way, as the queue's next transaction would have. The first ledger row's metadata takes
the artifact's version from ``stored_artifact``, so it says what the transaction's says.

Nothing moved means a stale expected state or an artifact whose newest version holds
the same content (a resumed step that produced the same output): :func:`finish`
returns None and the caller takes the transaction path, which handles both exactly as
before. So does a queue holding anything else than log rows and one settlement.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB

from aadap.core.states import TaskState
from aadap.db.models import Artifact, TaskLog
from aadap.db.session import Database
from aadap.services import artifacts, costs, ledger

_LOGS: Table = TaskLog.__table__  # type: ignore[assignment]
_LOG_COLUMNS = [c.name for c in _LOGS.columns]
_RECORDS = func.jsonb_populate_recordset(
    literal_column("NULL::task_logs"), bindparam("log_rows_", type_=JSONB)
).table_valued(*_LOG_COLUMNS)
#: the queued log rows, all in one JSON parameter: one statement shape for any number
_LOGGED = (
    _LOGS.insert()
    .from_select(_LOG_COLUMNS, select(*(_RECORDS.c[c] for c in _LOG_COLUMNS)))
    .cte("logged")
)
_SETTLED = costs.SETTLE.cte("settled")
#: (hops, log rows?, settlement?) -> the statement, built on first use
_STATEMENTS: dict[tuple[int, bool, bool], Any] = {}


def _statement(hops: int, logs: bool, settle: bool) -> Any:
    key = (hops, logs, settle)
    statement = _STATEMENTS.get(key)
    if statement is None:
        moved = ledger.move_cte(artifacts.differs_from_newest())
        stored = artifacts.store_after(moved)
        version = select(stored.c.version).scalar_subquery()
        first_metadata = bindparam("metadata_0", type_=JSONB).op("||")(
            func.jsonb_build_object("version", version)
        )
        statement = ledger.append_statement(moved.c.id, hops, first_metadata).returning(
            version, select(stored.c.parent_id).scalar_subquery()
        )
        extra = [cte for cte, wanted in ((_LOGGED, logs), (_SETTLED, settle)) if wanted]
        if extra:
            statement = statement.add_cte(*extra)
        _STATEMENTS[key] = statement
    return statement


def _json_value(value: Any) -> Any:
    """A task_logs column value as JSON (``details`` is JSON already)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


async def finish(
    db: Database,
    *,
    task_id: uuid.UUID,
    expected_from: TaskState,
    hops: Sequence[ledger.Hop],
    row: Artifact,
) -> Artifact | None:
    """Store ``row`` (a new :func:`artifacts.new_row`) and move through ``hops`` from
    ``expected_from``, with the queued trail rows, in one statement. The first hop's
    metadata gets the artifact's version. Returns the stored row, or None if nothing
    moved or the queue holds what this statement cannot carry (the caller then runs
    the transaction path), and on any other database than PostgreSQL."""
    if db.engine.dialect.name != "postgresql":
        return None
    taken = db.take_deferred()
    log_rows: list[dict[str, Any]] = []
    settle: dict[str, Any] | None = None
    for statement, params, table in taken:
        if table is _LOGS:
            log_rows = params
        elif table is None and statement is costs.SETTLE and settle is None:
            settle = params
        else:
            db.requeue(taken)
            return None
    path = ledger.Path.of(task_id, expected_from, hops)
    params = {**path.params, **artifacts.params_for(row), **(settle or {})}
    if log_rows:
        params["log_rows_"] = [{k: _json_value(v) for k, v in r.items()} for r in log_rows]
    try:
        async with db.sessions() as session:  # autocommit: the statement is atomic
            result = (
                await session.execute(
                    _statement(len(hops), bool(log_rows), settle is not None), params
                )
            ).all()
    except BaseException:
        db.requeue(taken)
        raise
    if not result:
        return None
    row.version, row.parent_id = result[0][1], result[0][2]
    transitions = path.rows([seq for seq, _, _ in result])
    transitions[0].metadata_ = {**transitions[0].metadata_, "version": row.version}
    return row


__all__ = ["finish"]
