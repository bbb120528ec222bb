"""Progress listeners: a foreground CLI subscribes to see steps as they happen."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from aadap.core.states import TaskState

Listener = Callable[[uuid.UUID, TaskState, TaskState, str | None], None]

_listener: ContextVar[Listener | None] = ContextVar("aadap_progress", default=None)


@contextmanager
def listen(listener: Listener) -> Iterator[None]:
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def emit(task_id: uuid.UUID, src: TaskState, dst: TaskState, reason: str | None) -> None:
    listener = _listener.get()
    if listener is not None:
        listener(task_id, src, dst, reason)
