"""Who is running right now: the task, the flow run, the step and the attempt.

The orchestration layer sets this at the start of every step; services read it to
stamp cost and log rows without knowing anything about Prefect.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from decimal import Decimal

from aadap.core.scoping import scoped


@dataclass(slots=True)
class Spend:
    """The task's budgets and running totals as of its last cost write, kept by the run
    so the check before each LLM call needs no query. The totals are the database's
    own (``UPDATE … RETURNING`` of each cost write), so the check after a call sees
    every writer's spend; only the check before a call can be one call stale, and the
    check after that call catches it."""

    tokens_used: int
    cost_usd: Decimal
    token_budget: int
    cost_budget_usd: Decimal | None
    unpriced_calls: int = 0
    calls: dict[str, int] = field(default_factory=dict)  # LLM calls recorded, per task run
    #: per task run, how many of its calls the step's finishing commit settled
    settled: dict[str, int] = field(default_factory=dict)

    def calls_of(self, task_run_id: str) -> int:
        return self.calls.get(task_run_id, 0)

    def unsettled(self, task_run_id: str) -> bool:
        """The task run recorded calls that no commit of this run has settled yet."""
        return self.settled.get(task_run_id, 0) != self.calls_of(task_run_id)


@dataclass(frozen=True, slots=True)
class RunContext:
    task_id: uuid.UUID
    correlation_id: str
    flow_run_id: str | None = None
    task_run_id: str | None = None
    step: str | None = None
    attempt: int = 1
    spend: Spend | None = None  # shared by the steps of the run (mutable)


_current: ContextVar[RunContext | None] = ContextVar("aadap_run_context", default=None)


def current() -> RunContext | None:
    return _current.get()


def bind(ctx: RunContext) -> AbstractContextManager[None]:
    return scoped(_current, ctx)


@contextmanager
def step(name: str, *, task_run_id: str | None, attempt: int) -> Iterator[RunContext | None]:
    """Narrow the current context to one step attempt (no-op outside a lifecycle)."""
    ctx = _current.get()
    if ctx is None:
        yield None
        return
    narrowed = replace(ctx, step=name, task_run_id=task_run_id, attempt=attempt)
    with bind(narrowed):
        yield narrowed
