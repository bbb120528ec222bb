"""Mirror Prefect run logs into ``task_logs``.

A ``logging.Handler`` on ``prefect.flow_runs`` and ``prefect.task_runs`` buffers
each record (``emit`` must not do IO on the event loop); the step hooks and the
flow's end flush the buffer into ``task_logs`` in one transaction. A process
killed with ``kill -9`` loses at most the records since the last flush; the
trail rows that matter (transitions, costs, hook events) are written directly.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from aadap.core.enums import LogLevel
from aadap.db.session import Database
from aadap.orchestration import runtime
from aadap.services import logs

_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
_LEVELS = {
    logging.DEBUG: LogLevel.DEBUG,
    logging.INFO: LogLevel.INFO,
    logging.WARNING: LogLevel.WARNING,
    logging.ERROR: LogLevel.ERROR,
    logging.CRITICAL: LogLevel.CRITICAL,
}


@dataclass(frozen=True, slots=True)
class _Record:
    flow_run_id: str
    task_run_id: str | None
    level: LogLevel
    message: str
    logger: str
    created: dt.datetime
    step: str | None


class MirrorHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._lock = threading.Lock()
        self._buffer: list[_Record] = []

    def emit(self, record: logging.LogRecord) -> None:
        flow_run_id = getattr(record, "flow_run_id", None)
        if not flow_run_id:
            return
        task_run_id = getattr(record, "task_run_id", None)
        entry = _Record(
            flow_run_id=str(flow_run_id),
            task_run_id=None if task_run_id is None else str(task_run_id),
            level=_LEVELS.get(record.levelno, LogLevel.INFO),
            message=record.getMessage(),
            logger=record.name,
            created=dt.datetime.fromtimestamp(record.created, dt.UTC),
            step=getattr(record, "task_name", None),
        )
        with self._lock:
            self._buffer.append(entry)

    def drain(self, flow_run_id: str) -> list[_Record]:
        with self._lock:
            mine = [r for r in self._buffer if r.flow_run_id == flow_run_id]
            self._buffer = [r for r in self._buffer if r.flow_run_id != flow_run_id]
        return mine


_handler: MirrorHandler | None = None
_install_lock = threading.Lock()


def install() -> MirrorHandler:
    """Attach the mirror once per process (idempotent)."""
    global _handler
    with _install_lock:
        if _handler is None:
            _handler = MirrorHandler()
            for name in _LOGGERS:
                logging.getLogger(name).addHandler(_handler)
        return _handler


async def flush(db: Database, flow_run_id: str | None) -> int:
    if _handler is None or flow_run_id is None:
        return 0
    task_id = runtime.task_of_flow_run(flow_run_id)
    records = _handler.drain(flow_run_id)
    return await logs.write(
        db,
        (
            logs.build(
                level=r.level,
                event="prefect.log",
                message=r.message,
                source=r.logger,
                task_id=task_id,
                flow_run_id=r.flow_run_id,
                task_run_id=r.task_run_id,
                details={"step": r.step},
                created_at=r.created,
            )
            for r in records
        ),
    )
