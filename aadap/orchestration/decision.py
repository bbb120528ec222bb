"""A reviewer's decision on a waiting lifecycle, and how it reaches the run.

No Prefect import here: ``aadap approvals approve|reject`` is a new process a reviewer
waits for, and importing Prefect would cost it about a second (a fifth of the time from
a decision to a completed run, ``benchmarks/startup.py`` item 4). With a Prefect
server's address (``PREFECT_API_URL``: the local background server, the one ``aadap
serve`` uses, a remote one), the decision goes over that server's REST API in the two
calls Prefect's own ``resume_flow_run`` makes (read the run, post the input). Without
one, Prefect's API runs inside the process, so only Prefect's client can reach it
(:func:`aadap.orchestration.approval.resume_in_process`). The checks and the errors are
the same either way.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, field_validator

from aadap.core.exceptions import (
    ApprovalNotWaitingError,
    InvalidRequestError,
    PrefectUnavailableError,
)


class DecisionFields(BaseModel):
    """The form's fields (the RunInput ``approval.ApprovalDecision`` adds Prefect's part)."""

    decision: Literal["approve", "reject"] = Field(
        description="approve to deploy, reject to send it back"
    )
    reviewer: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"\S",  # not only whitespace; the server checks the form's schema too
        description="your name (recorded as given)",
    )
    comment: str = Field(
        default="",
        max_length=4000,
        description="optional: why; a rejection's comment goes to the developer",
    )

    @field_validator("comment", mode="before")
    @classmethod
    def _no_comment(cls, value: object) -> object:
        """An input stored before the comment became plain text may hold ``null``."""
        return "" if value is None else value


def not_waiting(flow_run_id: str, state: str) -> ApprovalNotWaitingError:
    return ApprovalNotWaitingError(
        f"flow run {flow_run_id} is {state}, not waiting for a decision; nothing was changed "
        "(`aadap reconcile` closes the request of a run that ended)",
        details={"field": "id", "flow_run_id": flow_run_id, "flow_run_state": state},
    )


def refused(flow_run_id: str, reason: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Prefect refused to resume flow run {flow_run_id}: {reason}",
        details={"flow_run_id": flow_run_id},
    )


async def submit(flow_run_id: str, decision: DecisionFields, *, api_url: str | None = None) -> None:
    """Resume a paused (or suspended) lifecycle with a reviewer's decision.

    A run that is not waiting (it ended, or the API does not know it) is refused with
    ``ApprovalNotWaitingError`` before anything is sent, as is one that stopped waiting
    meanwhile; Prefect checks the input against the form's schema, and a refusal there
    is ``InvalidRequestError``. Either way nothing changed. ``api_url``: the Prefect
    server to use; ``None`` uses Prefect's client and settings."""
    run_input = decision.model_dump(mode="json", include=set(DecisionFields.model_fields))
    if api_url is None:
        from aadap.orchestration.approval import resume_in_process

        await resume_in_process(flow_run_id, run_input)
        return
    try:
        async with httpx.AsyncClient(
            base_url=api_url.rstrip("/") + "/", headers=_auth_headers(), timeout=30
        ) as client:
            await _resume_over_http(client, flow_run_id, run_input)
    except httpx.HTTPError as exc:
        raise PrefectUnavailableError(
            f"the Prefect API at {api_url} did not answer: {type(exc).__name__}: {exc}",
            details={"flow_run_id": flow_run_id},
        ) from exc


async def _resume_over_http(
    client: httpx.AsyncClient, flow_run_id: str, run_input: dict[str, Any]
) -> None:
    found = await client.get(f"flow_runs/{flow_run_id}")
    if found.status_code in (404, 422):  # no such run, or not a flow-run id
        raise not_waiting(flow_run_id, "unknown to the Prefect API")
    found.raise_for_status()
    state = found.json().get("state") or {}
    if state.get("type") != "PAUSED":
        raise not_waiting(flow_run_id, state.get("name") or "unknown to the Prefect API")
    answer = await client.post(f"flow_runs/{flow_run_id}/resume", json={"run_input": run_input})
    answer.raise_for_status()
    result = answer.json()
    reason = (result.get("details") or {}).get("reason") or result.get("status")
    if result.get("status") == "ABORT":  # the run stopped waiting meanwhile
        raise not_waiting(flow_run_id, f"no longer paused ({reason})")
    if result.get("status") != "ACCEPT":
        raise refused(flow_run_id, str(reason))


def _auth_headers() -> dict[str, str]:
    """What Prefect's client sends: a Cloud API key, or a self-hosted server's basic auth."""
    if key := os.environ.get("PREFECT_API_KEY"):
        return {"Authorization": f"Bearer {key}"}
    if auth := os.environ.get("PREFECT_API_AUTH_STRING"):
        return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
    return {}


__all__ = ["DecisionFields", "not_waiting", "refused", "submit"]
