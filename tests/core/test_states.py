from __future__ import annotations

import itertools

import pytest

from aadap.core.exceptions import InvalidStateTransitionError
from aadap.core.states import (
    ORIGINAL_STATES,
    TERMINAL_STATES,
    VALID_TRANSITIONS,
    TaskState,
    can_transition,
    check_transition,
)

S = TaskState

HAPPY_PATH = [
    S.SUBMITTED, S.PARSING, S.PARSED, S.PLANNING, S.PLANNED, S.AGENT_ASSIGNMENT,
    S.AGENT_ASSIGNED, S.IN_DEVELOPMENT, S.CODE_GENERATED, S.IN_VALIDATION,
    S.VALIDATION_PASSED, S.OPTIMIZATION_PENDING, S.IN_OPTIMIZATION, S.OPTIMIZED,
    S.APPROVAL_PENDING, S.IN_REVIEW, S.APPROVED, S.DEPLOYING, S.DEPLOYED, S.COMPLETED,
]  # fmt: skip


def test_the_25_original_states_are_all_there() -> None:
    assert len(ORIGINAL_STATES) == 25
    assert set(TaskState) == ORIGINAL_STATES | {S.FAILED}


def test_happy_path_is_allowed_step_by_step() -> None:
    for src, dst in itertools.pairwise(HAPPY_PATH):
        assert check_transition(src, dst) == (src, dst)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (S.SUBMITTED, S.PARSED),  # skipping a step
        (S.APPROVAL_PENDING, S.APPROVED),  # approval without review
        (S.IN_VALIDATION, S.DEPLOYING),  # deploy without validation
        (S.VALIDATION_FAILED, S.APPROVAL_PENDING),
        (S.COMPLETED, S.PARSING),  # terminal
        (S.CANCELLED, S.SUBMITTED),
    ],
)
def test_anything_else_raises(src: TaskState, dst: TaskState) -> None:
    with pytest.raises(InvalidStateTransitionError) as info:
        check_transition(src, dst, task_id="t1")
    assert src.value in info.value.message and dst.value in info.value.message
    assert info.value.details == {"from_state": src.value, "to_state": dst.value}
    assert info.value.task_id == "t1"
    assert not can_transition(src, dst)


def test_unknown_state_names_raise() -> None:
    with pytest.raises(InvalidStateTransitionError, match="unknown task state"):
        check_transition("SUBMITTED", "WHATEVER")
    assert not can_transition("NOPE", "PARSING")


def test_rework_edges_exist() -> None:
    assert can_transition(S.VALIDATION_FAILED, S.IN_DEVELOPMENT)
    assert can_transition(S.REJECTED, S.IN_DEVELOPMENT)
    assert can_transition(S.DEV_FAILED, S.IN_DEVELOPMENT)
    assert can_transition(S.VALIDATION_PASSED, S.APPROVAL_PENDING)  # optimisation skipped


def test_every_live_state_can_be_cancelled_or_failed_and_terminals_cannot_move() -> None:
    for state in TaskState:
        if state in TERMINAL_STATES:
            assert VALID_TRANSITIONS[state] == frozenset()
        else:
            assert {S.CANCELLED, S.FAILED} <= VALID_TRANSITIONS[state]
