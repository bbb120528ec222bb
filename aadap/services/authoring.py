"""The authoring steps, one use case each: parse, plan, route, develop, validate, optimise.

Every step first looks at the task's recorded state (:class:`TaskCursor`): if the step
already finished, it returns the persisted output (an artifact) without calling an LLM
again; if it was interrupted mid-way, it carries on from its own state.
"""

from __future__ import annotations

import json

from aadap import agents
from aadap.agents import GeneratedCode, Plan, Requirement, Review, Route
from aadap.core.enums import ArtifactType
from aadap.core.exceptions import ValidationFailedError
from aadap.core.states import TaskState
from aadap.services import artifacts, ledger, step_inputs
from aadap.services.cursor import TaskCursor, reached

S = TaskState

#: the optimiser's first moves
_OPTIMISER_ENTRY = ((S.OPTIMIZATION_PENDING, "optimiser"), (S.IN_OPTIMIZATION, "optimiser"))


async def parse(cur: TaskCursor) -> Requirement:
    if reached(await cur.begin(S.PARSED, S.PARSING, by="parser"), S.PARSED):
        return await step_inputs.load(cur, ArtifactType.REQUIREMENT, "requirement", Requirement)
    requirement = await agents.parse_request(cur.rt.llm, await step_inputs.agent_context(cur))
    await cur.finish_step(
        S.PARSED,
        by="parser",
        output=requirement,
        kind=ArtifactType.REQUIREMENT,
        name="requirement",
    )
    return requirement


async def plan(cur: TaskCursor, requirement: Requirement) -> Plan:
    if reached(await cur.begin(S.PLANNED, S.PLANNING, by="planner"), S.PLANNED):
        return await step_inputs.load(cur, ArtifactType.PLAN, "plan", Plan)
    plan = await agents.plan_work(cur.rt.llm, await step_inputs.agent_context(cur), requirement)
    await cur.finish_step(S.PLANNED, by="planner", output=plan, kind=ArtifactType.PLAN, name="plan")
    return plan


async def route(cur: TaskCursor, requirement: Requirement, plan: Plan) -> Route:
    if reached(
        await cur.begin(S.AGENT_ASSIGNED, S.AGENT_ASSIGNMENT, by="router"), S.AGENT_ASSIGNED
    ):
        return await step_inputs.load(cur, ArtifactType.PLAN, "route", Route)
    route = await agents.route_work(
        cur.rt.llm, await step_inputs.agent_context(cur), requirement, plan
    )
    await cur.finish_step(
        S.AGENT_ASSIGNED, by="router", output=route, kind=ArtifactType.PLAN, name="route",
        reason=f"{route.developer} developer ({route.language.value}): {route.reason}",
    )  # fmt: skip
    return route


async def failed_validations(cur: TaskCursor) -> int:
    async with cur.rt.db.sessions() as session:
        return await ledger.count_entries(session, cur.task_id, S.VALIDATION_FAILED)


async def rework_feedback(cur: TaskCursor) -> list[str]:
    """Findings of the last failed review and the last rejection, for the next round."""
    state = await cur.state()
    notes: list[str] = []
    if state is S.VALIDATION_FAILED:
        review = await step_inputs.latest(cur, ArtifactType.REVIEW_REPORT, "review")
        if review is not None:
            notes.extend(json.loads(review.content).get("feedback", []))
    if state is S.REJECTED:
        decision = await step_inputs.latest(cur, ArtifactType.DECISION_EXPLANATION, "approval")
        if decision is not None:
            comment = json.loads(decision.content).get("comment")
            notes.append(
                f"A reviewer rejected the previous version: {comment or 'no comment given'}"
            )
    return notes


async def rejections(cur: TaskCursor) -> int:
    async with cur.rt.db.sessions() as session:
        return await ledger.count_entries(session, cur.task_id, S.REJECTED)


async def develop(
    cur: TaskCursor, requirement: Requirement, plan: Plan, route: Route
) -> GeneratedCode:
    state = await cur.state()
    if state is not S.REJECTED and (
        state in (S.CODE_GENERATED, S.IN_VALIDATION) or reached(state, S.VALIDATION_PASSED)
    ):
        return await step_inputs.load(cur, ArtifactType.GENERATED_CODE, "code", GeneratedCode)
    feedback = await rework_feedback(cur)
    await cur.enter(S.IN_DEVELOPMENT, by="developer", reason="; ".join(feedback)[:2000] or None)
    ctx = await step_inputs.agent_context(cur, feedback)
    code = await agents.develop_code(cur.rt.llm, ctx, requirement, plan, route)
    await cur.finish_step(
        S.CODE_GENERATED, by="developer", output=code, kind=ArtifactType.GENERATED_CODE, name="code",
        metadata={"language": code.language.value, "code_sha256": artifacts.content_hash(code.code)},
    )  # fmt: skip
    return code


async def validate(
    cur: TaskCursor, requirement: Requirement, code: GeneratedCode, *, optimise_next: bool = False
) -> Review:
    """Review the code; on failure record the findings as the next round's feedback.
    ``optimise_next`` (the plan's optimise flag): a passed review also enters the
    optimiser's step, in the same transaction.

    Raises ``ValidationFailedError`` once the rework budget
    (``AADAP_MAX_SELF_CORRECTIONS``) is spent.
    """
    state = await cur.state()
    if reached(state, S.VALIDATION_PASSED):
        report = await step_inputs.latest(cur, ArtifactType.REVIEW_REPORT, "review")
        if report is not None:
            return Review.model_validate(json.loads(report.content)["review"])
    await cur.enter(S.IN_VALIDATION, by="reviewer")
    review = await agents.review_code(
        cur.rt.llm, await step_inputs.agent_context(cur), requirement, code
    )
    feedback = [
        f"{f.severity} (line {f.line or '?'}): {f.message}"
        for f in review.findings
        if not review.passed
    ]
    outcome = {
        "review": review.model_dump(mode="json"),
        "code_sha256": artifacts.content_hash(code.code),
        "feedback": feedback,
    }
    target = S.VALIDATION_PASSED if review.passed else S.VALIDATION_FAILED
    enter_optimiser = review.passed and optimise_next
    await cur.finish_step(
        target, by="reviewer", output=json.dumps(outcome, indent=2), kind=ArtifactType.REVIEW_REPORT,
        name="review", reason=review.summary[:2000],
        then=_OPTIMISER_ENTRY if enter_optimiser else (),
    )  # fmt: skip
    if not review.passed:
        failures = await failed_validations(cur)
        if failures > cur.rt.settings.max_self_corrections:
            raise ValidationFailedError(
                f"validation failed {failures} times (limit AADAP_MAX_SELF_CORRECTIONS="
                f"{cur.rt.settings.max_self_corrections}); last findings: "
                + "; ".join(feedback)[:1500],
                task_id=str(cur.task_id),
                details={"findings": feedback, "rounds": failures},
            )
    return review


async def optimise(cur: TaskCursor, plan: Plan, code: GeneratedCode) -> GeneratedCode:
    state = await cur.state()
    if reached(state, S.OPTIMIZED):
        row = await step_inputs.latest(cur, ArtifactType.OPTIMIZED_CODE, "code")
        return code if row is None else GeneratedCode.model_validate_json(row.content)
    if not plan.optimise:
        return code
    if state is not S.IN_OPTIMIZATION:  # else entered by the review, or resumed inside
        await cur.enter(*(entry for entry, _ in _OPTIMISER_ENTRY), by="optimiser")
    result = await agents.optimise_code(
        cur.rt.llm, await step_inputs.agent_context(cur), plan, code
    )
    final = code.model_copy(update={"code": result.code}) if result.changed else code
    await cur.finish_step(
        S.OPTIMIZED, by="optimiser", output=final, kind=ArtifactType.OPTIMIZED_CODE, name="code",
        reason="; ".join(c.description for c in result.changes)[:2000] or "no change",
        metadata={"changed": result.changed, "expected_improvement": result.expected_improvement},
    )  # fmt: skip
    return final


async def final_code(cur: TaskCursor) -> GeneratedCode:
    """The code that approval and deployment are about: the optimised version if any."""
    row = await step_inputs.latest(cur, ArtifactType.OPTIMIZED_CODE, "code")
    if row is not None:
        return GeneratedCode.model_validate_json(row.content)
    return await step_inputs.load(cur, ArtifactType.GENERATED_CODE, "code", GeneratedCode)


__all__ = [
    "develop", "failed_validations", "final_code", "optimise", "parse", "plan",
    "rejections", "rework_feedback", "route", "validate",
]  # fmt: skip
