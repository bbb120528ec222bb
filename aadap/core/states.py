"""The task state machine: 25 business states of the original design plus FAILED.

This is AADAP's *business* status of a task, kept in our tables; Prefect's run
states are a separate thing. Transitions are a whitelist: anything not listed
raises :class:`~aadap.core.exceptions.InvalidStateTransitionError`.

Changes from the original whitelist (see shared/reference §2), each fixing a
defect recorded there:

* ``FAILED`` is added as a terminal state: the original had no outcome for a
  run that failed (budget, authentication, exhausted rework), so tasks ended
  in dead-end states.
* Every non-terminal state may move to ``CANCELLED`` (a cancel can arrive at
  any time from Prefect) and to ``FAILED``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from aadap.core.exceptions import InvalidStateTransitionError


class TaskState(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    PARSING = "PARSING"
    PARSED = "PARSED"
    PARSE_FAILED = "PARSE_FAILED"
    PLANNING = "PLANNING"
    PLANNED = "PLANNED"
    AGENT_ASSIGNMENT = "AGENT_ASSIGNMENT"
    AGENT_ASSIGNED = "AGENT_ASSIGNED"
    IN_DEVELOPMENT = "IN_DEVELOPMENT"
    CODE_GENERATED = "CODE_GENERATED"
    DEV_FAILED = "DEV_FAILED"
    IN_VALIDATION = "IN_VALIDATION"
    VALIDATION_PASSED = "VALIDATION_PASSED"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    OPTIMIZATION_PENDING = "OPTIMIZATION_PENDING"
    IN_OPTIMIZATION = "IN_OPTIMIZATION"
    OPTIMIZED = "OPTIMIZED"
    APPROVAL_PENDING = "APPROVAL_PENDING"
    IN_REVIEW = "IN_REVIEW"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    DEPLOYING = "DEPLOYING"
    DEPLOYED = "DEPLOYED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


S = TaskState

TERMINAL_STATES: frozenset[TaskState] = frozenset({S.COMPLETED, S.CANCELLED, S.FAILED})

_FORWARD: dict[TaskState, frozenset[TaskState]] = {
    S.SUBMITTED: frozenset({S.PARSING}),
    S.PARSING: frozenset({S.PARSED, S.PARSE_FAILED}),
    S.PARSED: frozenset({S.PLANNING}),
    S.PARSE_FAILED: frozenset({S.PARSING}),
    S.PLANNING: frozenset({S.PLANNED}),
    S.PLANNED: frozenset({S.AGENT_ASSIGNMENT}),
    S.AGENT_ASSIGNMENT: frozenset({S.AGENT_ASSIGNED}),
    S.AGENT_ASSIGNED: frozenset({S.IN_DEVELOPMENT}),
    S.IN_DEVELOPMENT: frozenset({S.CODE_GENERATED, S.DEV_FAILED}),
    S.CODE_GENERATED: frozenset({S.IN_VALIDATION}),
    S.DEV_FAILED: frozenset({S.IN_DEVELOPMENT}),
    S.IN_VALIDATION: frozenset({S.VALIDATION_PASSED, S.VALIDATION_FAILED}),
    S.VALIDATION_PASSED: frozenset({S.OPTIMIZATION_PENDING, S.APPROVAL_PENDING}),
    S.VALIDATION_FAILED: frozenset({S.IN_DEVELOPMENT}),
    S.OPTIMIZATION_PENDING: frozenset({S.IN_OPTIMIZATION}),
    S.IN_OPTIMIZATION: frozenset({S.OPTIMIZED}),
    S.OPTIMIZED: frozenset({S.APPROVAL_PENDING}),
    S.APPROVAL_PENDING: frozenset({S.IN_REVIEW}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset({S.DEPLOYING}),
    S.REJECTED: frozenset({S.IN_DEVELOPMENT}),
    S.DEPLOYING: frozenset({S.DEPLOYED, S.DEV_FAILED}),
    S.DEPLOYED: frozenset({S.COMPLETED}),
}

VALID_TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = {
    state: (frozenset() if state in TERMINAL_STATES else _FORWARD[state] | {S.CANCELLED, S.FAILED})
    for state in TaskState
}

ORIGINAL_STATES: frozenset[TaskState] = frozenset(TaskState) - {S.FAILED}


def can_transition(from_state: TaskState | str, to_state: TaskState | str) -> bool:
    try:
        src, dst = TaskState(from_state), TaskState(to_state)
    except ValueError:
        return False
    return dst in VALID_TRANSITIONS[src]


def check_transition(
    from_state: TaskState | str, to_state: TaskState | str, *, task_id: str | None = None
) -> tuple[TaskState, TaskState]:
    """Return the pair as enums, or raise ``InvalidStateTransitionError`` naming both."""
    try:
        src, dst = TaskState(from_state), TaskState(to_state)
    except ValueError as exc:
        raise InvalidStateTransitionError(
            f"unknown task state in transition {from_state!r} -> {to_state!r}; "
            f"known states: {', '.join(TaskState)}",
            task_id=task_id,
            details={"from_state": str(from_state), "to_state": str(to_state)},
        ) from exc
    if dst not in VALID_TRANSITIONS[src]:
        allowed = ", ".join(sorted(VALID_TRANSITIONS[src])) or "none (terminal state)"
        raise InvalidStateTransitionError(
            f"transition {src} -> {dst} is not allowed; from {src} the allowed targets are: "
            f"{allowed}",
            task_id=task_id,
            details={"from_state": src.value, "to_state": dst.value},
        )
    return src, dst
