"""``aadap approvals list|show|approve|reject``: decide paused lifecycles from the terminal, via the Prefect API."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aadap.cli._common import (
    Format,
    bad_input,
    check_format,
    clip,
    minute,
    open_database,
    out,
    print_json,
    run_async,
    settings_or_exit,
    table,
    with_database,
)
from aadap.cli._prefect_env import prepare
from aadap.core.exceptions import ApprovalNotWaitingError

if TYPE_CHECKING:
    from aadap.services.views import ApprovalRow

approvals_app = typer.Typer(
    help="Approve or reject lifecycles waiting for a human.", no_args_is_help=True
)
Ident = Annotated[str, typer.Argument(metavar="ID", help="approval id or a unique prefix")]
Reviewer = Annotated[str | None, typer.Option(help="your name (default: your login)")]


def _row(a: ApprovalRow) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "task_id": str(a.task_id),
        "title": a.title,
        "status": a.status,
        "operation_class": a.operation_class,
        "risk": a.risk_level,
        "environment": a.environment,
        "requested_at": a.requested_at.isoformat(),
        "expires_at": a.expires_at.isoformat() if a.expires_at else None,
        "decided_by": a.decided_by,
        "reason": a.reason,
        "code_sha256": a.code_hash,
        "flow_run_id": a.flow_run_id,
    }


@approvals_app.command("list")
def list_pending(
    fmt: Format = "text",
) -> None:
    """Requests waiting for a decision."""
    from aadap.services import views

    check_format(fmt)
    settings = settings_or_exit()
    rows = [_row(a) for a in with_database(settings, views.pending_approvals)]
    if fmt == "json":
        print_json(rows)
        return
    shown = [
        {**r, "id": r["id"][:8], "task_id": r["task_id"][:8], "title": clip(r["title"], 50),
         "expires_at": minute(r["expires_at"])}
        for r in rows
    ]  # fmt: skip
    fields = ["id", "task_id", "operation_class", "risk", "environment", "expires_at", "title"]
    out.print(table(fields, shown, names={"title"}))


@approvals_app.command("show")
def show(ident: Ident, fmt: Format = "text") -> None:
    """The request: code, findings, risk and why policy asked for a human."""
    from aadap.services import views

    check_format(fmt)
    settings = settings_or_exit()
    detail = with_database(settings, lambda db: views.approval_detail(db, ident))
    data = {**_row(detail.request), "findings": detail.findings, "code": detail.code}
    if fmt == "json":
        print_json(data)
        return
    for key in (
        "id",
        "task_id",
        "title",
        "status",
        "operation_class",
        "risk",
        "environment",
        "expires_at",
        "reason",
        "code_sha256",
    ):
        out.print(f"{key:16} {data[key]}", highlight=False, markup=False)
    for f in data["findings"]:
        out.print(
            f"  {f.get('severity'):8} line {f.get('line')}: {f.get('rule')}: {f.get('message')}",
            highlight=False,
            markup=False,
        )
    if data["code"]:
        out.print("\n" + data["code"], highlight=False, markup=False)


@approvals_app.command("approve")
def approve(
    ident: Ident,
    comment: Annotated[str | None, typer.Option(help="why")] = None,
    reviewer: Reviewer = None,
) -> None:
    """Approve: the paused lifecycle resumes and deploys the exact code that was reviewed."""
    _decide(ident, "approve", reviewer, comment)


@approvals_app.command("reject")
def reject(
    ident: Ident,
    comment: Annotated[
        str | None, typer.Option(help="what to change; goes to the developer agent")
    ] = None,
    reviewer: Reviewer = None,
) -> None:
    """Reject: the lifecycle goes back to development with your comment as feedback."""
    _decide(ident, "reject", reviewer, comment)


def _decide(ident: str, decision: str, reviewer: str | None, comment: str | None) -> None:
    who = (getpass.getuser() if reviewer is None else reviewer).strip()
    if not who:
        bad_input("--reviewer", reviewer, "a name with at least one visible character")
    settings = settings_or_exit()
    prepare(settings)

    async def go() -> dict[str, Any]:
        from pydantic import ValidationError

        from aadap.core.requests import request_error
        from aadap.orchestration import decision as resume
        from aadap.services import outcome, views

        try:
            form = resume.DecisionFields(decision=decision, reviewer=who, comment=comment or "")
        except ValidationError as exc:
            raise request_error(exc) from exc
        async with open_database(settings) as db:
            target = await views.decision_target(db, ident)
        a = target.request
        if a.flow_run_id is None:
            raise ApprovalNotWaitingError(
                f"approval request {a.id}: task {a.task_id} has no flow run to resume; nothing was changed",
                details={"field": "id", "approval_id": str(a.id)},
            )
        runner = target.runner
        if not runner.get("deployment") and outcome.process_alive(runner) is False:
            raise ApprovalNotWaitingError(
                f"approval request {a.id}: the process that ran task {a.task_id} (pid {runner.get('pid')}) "
                "is gone, so nothing waits for this decision; nothing was changed "
                "(`aadap reconcile` closes the request)",
                details={"field": "id", "approval_id": str(a.id)},
            )
        # with a server's address (prepare() found the local one, or the user set it) the
        # decision goes over HTTP and Prefect is never imported: a second less to wait
        await resume.submit(a.flow_run_id, form, api_url=os.environ.get("PREFECT_API_URL"))
        return {
            "approval_id": str(a.id),
            "flow_run_id": a.flow_run_id,
            "decision": decision,
            "reviewer": who,
        }

    result = run_async(go)
    done = {"approve": "approved", "reject": "rejected"}[result["decision"]]
    out.print(
        f"{done} request {result['approval_id'][:8]} as {who}; flow run {result['flow_run_id']} resumed",
        highlight=False,
        markup=False,
    )
