"""Progress listeners and the run's narrator.

A foreground CLI subscribes (:func:`listen`) to see steps as they happen. The
orchestration layer installs a narrator (:func:`narrate_with`) that writes the
story of a run (moves, LLM calls, retries) to Prefect's run log: the services
tell it (:func:`tell`) without importing Prefect. ``task_logs`` and the ledger stay
the record; the narrator is the operator's view of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar

from aadap.core.enums import LogLevel
from aadap.core.scoping import scoped
from aadap.core.states import TaskState

Listener = Callable[[uuid.UUID, TaskState, TaskState, str | None], None]
Narrator = Callable[[LogLevel, str], None]

_listener: ContextVar[Listener | None] = ContextVar("aadap_progress", default=None)
_narrator: Narrator | None = None


def listen(listener: Listener) -> AbstractContextManager[None]:
    return scoped(_listener, listener)


def narrate_with(narrator: Narrator | None) -> None:
    """Install the process's narrator (``None`` removes it)."""
    global _narrator
    _narrator = narrator


def tell(level: LogLevel, message: str) -> None:
    """One line of the run's story, for the narrator (if any)."""
    if _narrator is not None:
        _narrator(level, message)


def emit(task_id: uuid.UUID, src: TaskState, dst: TaskState, reason: str | None) -> None:
    listener = _listener.get()
    if listener is not None:
        listener(task_id, src, dst, reason)
    tell(LogLevel.INFO, f"{src.value} → {dst.value}" + (f": {reason}" if reason else ""))
