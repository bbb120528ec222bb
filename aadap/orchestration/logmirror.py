"""Mirror Prefect run logs into ``task_logs``.

A ``logging.Handler`` on ``prefect.flow_runs`` and ``prefect.task_runs`` buffers
each record (``emit`` must not do IO on the event loop); the step hooks and the
flow's end commit the buffer. A process
killed with ``kill -9`` loses at most the records since the last flush; the
trail rows that matter (transitions, costs, hook events) are written directly.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from aadap.core.enums import LogLevel
from aadap.db.session import Database
from aadap.orchestration import bound_runtime
from aadap.services import logs

_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
_LEVELS = {
    logging.DEBUG: LogLevel.DEBUG,
    logging.INFO: LogLevel.INFO,
    logging.WARNING: LogLevel.WARNING,
    logging.ERROR: LogLevel.ERROR,
    logging.CRITICAL: LogLevel.CRITICAL,
}
_TRACEBACKS = logging.Formatter()


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
        if not flow_run_id or getattr(record, "aadap_story", False):
            return  # a story line (``story``) tells what task_logs or the ledger hold already
        task_run_id = getattr(record, "task_run_id", None)
        message = record.getMessage()
        if record.exc_info:  # the terminal shows no traceback (aadap run); task_logs keeps it
            message = f"{message}\n{_TRACEBACKS.formatException(record.exc_info)}"
        entry = _Record(
            flow_run_id=str(flow_run_id),
            task_run_id=None if task_run_id is None else str(task_run_id),
            level=_LEVELS.get(record.levelno, LogLevel.INFO),
            message=message,
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


class HookChatterFilter(logging.Filter):
    """Drops Prefect's two INFO lines around each run of AADAP's own trail hooks
    ("Running hook 'on_step_completed' in response to …", "Hook … finished running
    successfully"): four per step, each uploaded to the Prefect API and mirrored,
    saying what the hooks' own ``step.attempt``/``step.completed`` rows already say.
    A hook that fails is still logged (at ERROR, by Prefect), and so are other hooks."""

    _CHATTER = re.compile(r"^(Running hook|Hook) '(on_step_\w+|on_flow_\w+)'")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.INFO
            and isinstance(record.msg, str)
            and self._CHATTER.match(record.msg) is not None
        )


_handler: MirrorHandler | None = None
_install_lock = threading.Lock()


def install() -> MirrorHandler:
    """Attach the mirror (and the hook-chatter filter) once per process (idempotent)."""
    global _handler
    with _install_lock:
        if _handler is None:
            _handler = MirrorHandler()
            chatter = HookChatterFilter()
            for name in _LOGGERS:
                logging.getLogger(name).addHandler(_handler)
                logging.getLogger(name).addFilter(chatter)
        return _handler


def _rows(flow_run_id: str) -> list[Any]:
    assert _handler is not None
    task_id = bound_runtime.task_of_flow_run(flow_run_id)
    return [
        logs.entry(
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
        for r in _handler.drain(flow_run_id)
    ]


def drain(flow_run_id: str | None) -> list[Any]:
    """The run's buffered records as ``task_logs`` rows (:func:`logs.entry`), taken from
    the buffer, for a caller that writes them with its own rows."""
    if _handler is None or flow_run_id is None:
        return []
    return _rows(flow_run_id)


async def flush(db: Database, flow_run_id: str | None) -> int:
    """Commit the run's buffered records now."""
    return await logs.write(db, drain(flow_run_id))
