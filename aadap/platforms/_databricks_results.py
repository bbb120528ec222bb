"""Databricks answers (statement responses, job runs) as :class:`~aadap.platforms.protocol.RunResult`."""

from __future__ import annotations

from typing import Any

from aadap.core.enums import ExecutionStatus
from aadap.platforms.protocol import PREVIEW_ROWS, RunResult

_STATEMENT_STATUS = {
    "PENDING": ExecutionStatus.PENDING,
    "RUNNING": ExecutionStatus.RUNNING,
    "SUCCEEDED": ExecutionStatus.SUCCESS,
    # "execution successful, and statement closed; result no longer available for fetch"
    # (StatementState in databricks-sdk): a success whose rows are gone, see statement_result.
    "CLOSED": ExecutionStatus.SUCCESS,
    "FAILED": ExecutionStatus.FAILED,
    "CANCELED": ExecutionStatus.CANCELLED,
}
_RUNNING_LIFE_CYCLES = {"RUNNING", "TERMINATING"}
_TERMINAL_LIFE_CYCLES = {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}
_SUCCESS_RESULTS = {"SUCCESS", "SUCCESS_WITH_FAILURES"}


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def job_result(run: Any) -> RunResult:
    """A ``jobs.get_run`` answer as a (possibly non-terminal) result."""
    state = run.state
    life = _enum_value(state.life_cycle_state if state else None)
    outcome = _enum_value(state.result_state if state else None)
    message = (state.state_message if state else None) or None
    if life in _TERMINAL_LIFE_CYCLES:
        if outcome in _SUCCESS_RESULTS:
            status = ExecutionStatus.SUCCESS
        elif outcome == "CANCELED":
            status = ExecutionStatus.CANCELLED
        else:
            status = ExecutionStatus.FAILED
    elif life in _RUNNING_LIFE_CYCLES:
        status = ExecutionStatus.RUNNING
    else:
        status = ExecutionStatus.PENDING
    error = None
    if status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
        error = message or f"the run ended {life} {outcome}".strip()
    duration = run.run_duration or run.execution_duration
    return RunResult(
        status=status,
        error=error,
        run_url=run.run_page_url,
        duration_ms=int(duration) if duration else None,
        raw={"life_cycle_state": life, "result_state": outcome, "state_message": message},
    )


def statement_result(response: Any) -> RunResult:
    """A ``get_statement`` answer as a result: state, error, preview rows, affected rows."""
    status_obj = response.status
    state = _enum_value(status_obj.state if status_obj else None)
    status = _STATEMENT_STATUS.get(state, ExecutionStatus.PENDING)
    raw: dict[str, Any] = {"state": state, "statement_id": response.statement_id}
    error = None
    if status_obj and status_obj.error:
        error = status_obj.error.message or _enum_value(status_obj.error.error_code)
        raw["error_code"] = _enum_value(status_obj.error.error_code)
        raw["sql_state"] = status_obj.sql_state
    if status is not ExecutionStatus.SUCCESS:
        if status is ExecutionStatus.CANCELLED and not error:
            error = "the statement was cancelled"
        return RunResult(status=status, error=error, raw=raw)
    if state == "CLOSED":
        # It ran; its result expired before it was read. Not "no rows": the count is unknown.
        raw["result_available"] = False
        return RunResult(
            status=status,
            output="the statement succeeded but its result was closed before it was read "
            "(the service no longer serves it); rows and row count are unknown",
            row_count=None,
            raw=raw,
        )
    raw["result_available"] = True
    manifest = response.manifest
    schema = manifest.schema if manifest else None
    columns = [str(c.name) for c in (schema.columns or [])] if schema else []
    data = (response.result.data_array or []) if response.result else []
    rows = [dict(zip(columns, row, strict=False)) for row in data[:PREVIEW_ROWS]]
    truncated = bool(manifest and manifest.truncated)
    raw["truncated"] = truncated
    rows_affected = None
    if "num_affected_rows" in columns and rows and rows[0].get("num_affected_rows") is not None:
        rows_affected = int(rows[0]["num_affected_rows"])
    row_count = None if truncated else (manifest.total_row_count if manifest else len(rows))
    return RunResult(
        status=status,
        output=f"{rows_affected} row(s) affected" if rows_affected is not None else "",
        columns=columns,
        rows=rows,
        row_count=row_count,
        rows_affected=rows_affected,
        raw=raw,
    )


__all__ = ["job_result", "statement_result"]
