"""Validation that code passed: the review reports' verdicts, and a deterministic
re-validation of code that changed after its review (the optimiser's version, say)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from aadap import agents
from aadap.agents import GeneratedCode
from aadap.core.enums import ArtifactType, PlatformKind
from aadap.core.exceptions import ValidationFailedError
from aadap.db.models import Artifact
from aadap.db.repos import artifact_repo
from aadap.services import artifacts
from aadap.services.cursor import TaskCursor


async def validated_hashes(session: AsyncSession, task_id: uuid.UUID) -> set[str]:
    """Content hashes that passed validation (reviewer, or deterministic re-validation)."""
    return _passed(
        await artifact_repo.contents_of_type(
            session, task_id=task_id, artifact_type=ArtifactType.REVIEW_REPORT.value
        )
    )


def _passed(reports: Iterable[str]) -> set[str]:
    """The code hashes that the review reports (artifact contents) say passed."""
    hashes = set()
    for content in reports:
        report = json.loads(content)
        if report.get("review", {}).get("passed"):
            hashes.add(report["code_sha256"])
    return hashes


async def revalidate(
    cur: TaskCursor, code: GeneratedCode, validated: set[str] | None = None
) -> str | None:
    """Validate changed code again (syntax, deterministically) or raise ``ValidationFailedError``.

    ``validated``: the hashes that passed validation, if the caller has just read them.
    Returns the report of a re-validation that passed, for the caller to store in the
    transaction that records the approval request (one commit where there were two; the
    deploy gate finds the report with the request it approves), or ``None`` if the code
    had passed validation already. A failed report is committed here, before the error."""
    digest = artifacts.content_hash(code.code)
    if validated is None:
        async with cur.rt.db.sessions() as session:
            validated = await validated_hashes(session, cur.task_id)
    if digest in validated:
        return None
    task = await cur.facts()
    report = agents.check_syntax(code.code, code.language, PlatformKind(task.platform))
    passed = report.ok
    review = {
        "passed": passed,
        "findings": [
            {"severity": "error", "message": i.message, "line": i.line, "source": "syntax"}
            for i in report.issues
        ],
        "summary": "re-validated after the code changed"
        if passed
        else "the changed code does not parse",
    }
    content = json.dumps({"review": review, "code_sha256": digest, "feedback": []}, indent=2)
    if passed:
        return content
    async with cur.rt.db.transaction() as session:
        await artifacts.store(session, report_row(cur, content))
    raise ValidationFailedError(
        "the code changed after validation and the new version fails its syntax check: "
        + "; ".join(i.message for i in report.issues)[:1500],
        task_id=str(cur.task_id),
    )


def report_row(cur: TaskCursor, content: str) -> Artifact:
    """The re-validation report's artifact row (:func:`revalidate`)."""
    return artifacts.new_row(
        task_id=cur.task_id,
        artifact_type=ArtifactType.REVIEW_REPORT,
        name="revalidation",
        content=content,
    )


__all__ = ["report_row", "revalidate", "validated_hashes"]
