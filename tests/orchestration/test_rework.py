"""The bounded rework loop: a failed validation goes back to development with the
findings as feedback, at most ``AADAP_MAX_SELF_CORRECTIONS`` times, then the flow fails."""

from __future__ import annotations

import itertools
import json
import uuid

import pytest

from aadap.agents._prompt import load_prompt
from aadap.agents._prompt_inputs import read_feedback
from aadap.core.exceptions import ValidationFailedError
from aadap.core.requests import TaskRequest
from aadap.db import models
from aadap.llm.messages import LLMRequest
from aadap.services import authoring, context, tasks
from aadap.services.cursor import TaskCursor
from tests.orchestration.conftest import DATA, Harness, HarnessFactory

pytestmark = pytest.mark.prefect

LOAD = f"load {DATA / 'orders.csv'} into a table called orders_raw"
FINDING = "the table must be named orders_raw_v2 to match the warehouse convention"


def failing_review(message: str = FINDING, line: int = 1) -> str:
    """A reviewer reply (``ReviewDraft``) that fails the code with one error finding."""
    return json.dumps(
        {
            "passed": False,
            "findings": [{"severity": "error", "message": message, "line": line}],
            "summary": "the code does not meet the convention",
        }
    )


async def _trail(h: Harness, task_id: uuid.UUID) -> list[models.StateTransition]:
    trail = sorted(await h.rows(models.StateTransition, task_id), key=lambda t: t.sequence_num)
    assert [t.sequence_num for t in trail] == list(range(1, len(trail) + 1))
    assert all(a.to_state == b.from_state for a, b in itertools.pairwise(trail))
    return trail


async def test_a_failed_review_sends_the_findings_back_to_the_developer(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(faults={"reviewer": [failing_review()]})
    state = await h.run(LOAD)

    assert state.is_completed(), state.message
    task = await h.only_task()
    assert task.current_state == "COMPLETED"
    developer = [r for r in h.llm.requests if r.agent == "developer"]
    assert len(developer) == 2
    assert _feedback(developer[0]) == []
    assert _feedback(developer[1]) == [f"error (line 1): {FINDING}"]
    assert h.agents_called().count("reviewer") == 2

    trail = await _trail(h, task.id)
    moves = [(t.from_state, t.to_state) for t in trail]
    assert moves.count(("IN_VALIDATION", "VALIDATION_FAILED")) == 1
    assert moves.count(("VALIDATION_FAILED", "IN_DEVELOPMENT")) == 1
    back = next(t for t in trail if t.from_state == "VALIDATION_FAILED")
    assert FINDING in (back.reason or "")
    assert moves[-1] == ("DEPLOYED", "COMPLETED")
    # both review reports are kept, as versions; the deployed code is the one that passed
    reports = sorted(
        (a for a in await h.rows(models.Artifact, task.id) if a.artifact_type == "review_report"),
        key=lambda a: a.version,
    )
    assert [json.loads(a.content)["review"]["passed"] for a in reports] == [False, True]
    assert len(await h.rows(models.Execution, task.id)) == 1
    # every call, including the failed round's, is on the cost ledger once
    llm_rows = [c for c in await h.rows(models.CostRecord, task.id) if c.kind == "llm"]
    assert sorted(c.agent_type for c in llm_rows) == sorted(h.agents_called())


@pytest.mark.parametrize("backend", ["sqlite"])  # the bound reads the ledger the same way on both
@pytest.mark.parametrize("limit", [0, 1])
async def test_rework_is_bounded_by_max_self_corrections(
    make_harness: HarnessFactory, limit: int
) -> None:
    rounds = limit + 1
    h = make_harness(
        faults={"reviewer": [failing_review(f"finding {n}") for n in range(rounds + 1)]},
        max_self_corrections=limit,
    )
    state = await h.run(LOAD)

    assert state.is_failed()
    assert ValidationFailedError.error_code in (state.message or "")
    assert f"AADAP_MAX_SELF_CORRECTIONS={limit}" in (state.message or "")
    assert h.agents_called().count("developer") == rounds
    assert h.agents_called().count("reviewer") == rounds
    task = await h.only_task()
    assert task.current_state == "FAILED"
    trail = await _trail(h, task.id)
    assert [t.to_state for t in trail].count("VALIDATION_FAILED") == rounds
    assert (trail[-1].from_state, trail[-1].to_state) == ("VALIDATION_FAILED", "FAILED")
    assert "VALIDATION_FAILED" in (trail[-1].reason or "")
    # the feedback of round n is the finding of review n
    developer = [r for r in h.llm.requests if r.agent == "developer"]
    assert [_feedback(r) for r in developer] == [[]] + [
        [f"error (line 1): finding {n}"] for n in range(rounds - 1)
    ]
    assert await h.rows(models.Execution, task.id) == []
    assert await h.rows(models.ApprovalRequest, task.id) == []
    logs = await h.rows(models.TaskLog, task.id)
    assert any(log.event == "flow.failed" and log.error_code == "VALIDATION_FAILED" for log in logs)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_rework_bound_counts_rounds_made_before_a_resume(
    make_harness: HarnessFactory,
) -> None:
    """A task that already failed one review (then was interrupted) gets only the rounds left."""
    h = make_harness(
        faults={"reviewer": [failing_review("first"), failing_review("second")]},
        max_self_corrections=1,
    )
    task, _ = await tasks.create(
        h.db, h.settings, TaskRequest.parse({"text": LOAD, "working_dir": str(DATA.parent)})
    )
    lc = TaskCursor(h.runtime, task.id)
    with context.bind(context.RunContext(task_id=task.id, correlation_id=task.correlation_id)):
        requirement = await authoring.parse(lc)
        plan = await authoring.plan(lc, requirement)
        route = await authoring.route(lc, requirement, plan)
        code = await authoring.develop(lc, requirement, plan, route)
        assert not (await authoring.validate(lc, requirement, code)).passed
    assert (await h.only_task()).current_state == "VALIDATION_FAILED"

    state = await h.run(task_id=str(task.id))

    assert state.is_failed()
    assert "VALIDATION_FAILED" in (state.message or "")
    assert h.agents_called().count("developer") == 2  # one before the resume, one after
    developer = [r for r in h.llm.requests if r.agent == "developer"]
    assert _feedback(developer[1]) == ["error (line 1): first"]
    trail = await _trail(h, task.id)
    assert [t.to_state for t in trail].count("VALIDATION_FAILED") == 2
    assert trail[-1].to_state == "FAILED"


def _feedback(request: LLMRequest) -> list[str]:
    """The feedback the developer was given, read off its prompt (the only channel)."""
    values = load_prompt("developer").read_user(request.messages[-1].content)
    assert values is not None
    return read_feedback(values["feedback"])
