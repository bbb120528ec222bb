"""The human approval gate: a typed Prefect ``RunInput`` the reviewer fills in the UI or through the API.

Waiting releases the worker where Prefect allows it: under a deployment the
flow run is *suspended* (the process exits; on resume Prefect re-runs the flow
from the top, and every step resumes from AADAP's tables up to this gate, where
the same pause key returns the reviewer's input). Run in-process (``aadap run``,
tests) the flow run is *paused* and the process waits. A timeout marks the
request EXPIRED and fails the run with ``ApprovalExpiredError`` — never a
silent approval.

The form follows what the Prefect UI does with RunInputs (shared/reference
§10): the decision is a required field with no default, so submitting the
form untouched is rejected instead of being read as "reject"; the reviewer
name must be typed (open-source Prefect has no login, so this is recorded as
given).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

from prefect.exceptions import FlowPauseTimeout, NotPausedError
from prefect.flow_runs import apause_flow_run, aresume_flow_run, asuspend_flow_run
from prefect.input import RunInput
from prefect.input.actions import aread_flow_run_input
from prefect.input.run_input import keyset_from_base_key
from prefect.logging import get_run_logger
from prefect.runtime import deployment as current_deployment
from prefect.runtime import flow_run as current_flow_run

from aadap.agents import GeneratedCode
from aadap.core.exceptions import (
    AADAPError,
    ApprovalExpiredError,
    IntegrationError,
    TaskCancelledError,
)
from aadap.db.models import ApprovalRequest, Task
from aadap.orchestration import decision
from aadap.orchestration.decision import DecisionFields
from aadap.orchestration.flowruns import read_state
from aadap.platforms.protocol import TableInfo
from aadap.services import approval_gate
from aadap.services.cursor import TaskCursor

_GRACE = 60  # seconds Prefect's own pause timeout trails AADAP's expiry


class ApprovalDecision(RunInput, DecisionFields):  # the fields: decision.DecisionFields
    """What a reviewer submits to resume a paused lifecycle."""


def pause_key(request: ApprovalRequest) -> str:
    return f"approval-{request.id}"


#: code lines longer than this are wrapped in the form (the modal cuts them off)
WRAP = 100


def wrap_code(code: str, width: int = WRAP) -> str:
    """``code`` with lines over ``width`` characters broken, each continuation marked ``↳``."""
    out: list[str] = []
    for line in code.splitlines():
        while len(line) > width:
            out.append(line[:width])
            line = "  ↳ " + line[width:]
        out.append(line)
    return "\n".join(out)


def wrap_text(text: str, width: int = WRAP) -> str:
    """Prose with words over ``width`` characters (paths, identifiers) broken so they wrap."""
    return " ".join(
        "\u200b".join(word[i : i + width] for i in range(0, len(word), width)) or word
        for word in text.split(" ")
    )


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


#: what a name ends with when it is a file, not a table
_FILE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".txt", ".xlsx", ".avro", ".orc")


def is_path(name: str) -> bool:
    """Whether a declared target or source names a file (or folder) rather than a table."""
    return "/" in name or "\\" in name or name.lower().endswith(_FILE_SUFFIXES)


#: the sqlglot dialect of SQL run on each platform
_DIALECTS = {"local": "duckdb", "databricks": "databricks", "fabric": "spark"}
#: statements whose first table is the one they write
_WRITES = (
    "Insert",
    "Delete",
    "Update",
    "Create",
    "Merge",
    "Drop",
    "Alter",
    "Copy",
    "TruncateTable",
)


def sql_tables(code: GeneratedCode, platform: str) -> tuple[list[str], list[str]]:
    """The tables SQL ``code`` writes and reads, as sqlglot parses it (the developer may
    declare none: a statement given verbatim); nothing when it is not SQL or does not parse."""
    if code.language.value != "sql":
        return [], []
    from sqlglot import exp, parse  # loaded when a form is shown, not with every process
    from sqlglot.errors import SqlglotError

    try:
        statements = parse(code.code, read=_DIALECTS.get(platform, "duckdb"))
    except SqlglotError:
        return [], []
    writes: list[str] = []
    reads: list[str] = []
    for statement in statements:
        if statement is None:
            continue
        named = [
            ".".join(part.name for part in t.parts)
            for t in statement.find_all(exp.Table)
            if isinstance(t.this, exp.Identifier)
        ]
        first = 1 if type(statement).__name__ in _WRITES and named else 0
        writes += named[:first]
        reads += named[first:]
    return list(dict.fromkeys(writes)), [r for r in dict.fromkeys(reads) if r not in writes]


def touched(code: GeneratedCode, platform: str) -> tuple[list[str], list[str]]:
    """What the code writes and reads: the developer's declaration plus what its SQL names."""
    writes, reads = sql_tables(code, platform)
    writes = list(dict.fromkeys([*code.target_tables, *writes]))
    reads = [r for r in dict.fromkeys([*code.reads, *reads]) if r not in writes]
    return writes, reads


def table_names(code: GeneratedCode, platform: str) -> list[str]:
    """The targets and sources that name tables (the platform can say if they exist)."""
    writes, reads = touched(code, platform)
    return [n for n in [*writes, *reads] if not is_path(n)]


def _on_platform(name: str, info: dict[str, TableInfo], unknown: str) -> str:
    if is_path(name):
        return "a file path (not a table)"
    found = info.get(name)
    if found is None or found.exists is None:
        return f"unknown: {unknown}" if unknown else "unknown"
    if not found.exists:
        return "**does not exist yet** (will be created)"
    where = f" as `{found.found_as}`" if found.found_as and found.found_as != name else ""
    rows = "row count unknown" if found.rows is None else f"**{found.rows:,} rows**"
    return f"exists{where} · {rows}"


def touches_lines(
    code: GeneratedCode, platform: str, tables: Sequence[TableInfo] | str | None
) -> list[str]:
    """The "what the code touches" table: each target and source, and what the platform
    says of it (``tables``: its answer, or why it could not answer)."""
    writes, reads = touched(code, platform)
    if not (writes or reads):
        return [
            "",
            "### What the code touches",
            "",
            "No table or file is declared or named in SQL.",
        ]
    unknown = tables if isinstance(tables, str) else ("" if tables else "not checked")
    info = {} if isinstance(tables, str) or tables is None else {t.name: t for t in tables}
    # a list, not a table: the Prefect UI's resume modal is narrow and cuts table columns off
    lines = ["", "### What the code touches", ""]
    for verb, names in (("writes", writes), ("reads", reads)):
        lines += [f"- **{verb}** `{n}`: {_on_platform(n, info, unknown)}" for n in names]
    lines += [
        "",
        "_As the developer declared them and the SQL names them; the findings below are what "
        "the safety analysis saw._",
    ]
    return lines


def describe(
    request: ApprovalRequest,
    code: GeneratedCode,
    cost_so_far: str,
    task: Task | None = None,
    tables: Sequence[TableInfo] | str | None = None,
) -> str:
    """The markdown the reviewer sees above the form: what was asked and by whom, what the
    code writes and reads (with whether each table exists and its rows: ``tables``, see
    :func:`touches_lines`), the code (wrapped to fit), its findings, and what policy said."""
    analysis: dict[str, Any] = request.metadata_.get("analysis", {})
    findings = analysis.get("findings", [])
    expires = request.expires_at.isoformat(timespec="minutes") if request.expires_at else "never"
    lines = [f"## Approval needed: {request.operation_class} in {request.environment}", ""]
    if task is not None:
        asked = "\n".join(f"> {line}" for line in task.request.splitlines()) or "> (empty)"
        lines += [
            f"**Asked by:** {task.created_by or 'not recorded'} · **task:** {task.title} (`{task.id}`)",
            "",
            asked,
            "",
        ]
    lines += [
        f"**Why:** {request.reason}",
        f"**Risk:** `{request.risk_level}` · **operation class:** `{request.operation_class}` · "
        f"**cost so far:** ${cost_so_far}",
        f"**Expires:** {expires} UTC · **approval id:** `{request.id}` · **code sha256:** `{request.code_hash[:16]}…`",
    ]
    platform = task.platform if task is not None else str(analysis.get("platform", "local"))
    lines += touches_lines(code, platform, tables)
    wrapped = wrap_code(code.code)
    lines += [
        "",
        f"### Code ({code.language.value})",
        f"```{code.language.value}",
        wrapped,
        "```",
    ]
    if wrapped != code.code:
        lines.append(f"_Lines over {WRAP} characters are wrapped; `↳` continues the line above._")
    if findings:
        lines += ["", "### Findings", ""]
        for item in findings[:40]:
            line = f" (line {item['line']})" if item.get("line") else ""
            lines.append(
                f"- **{item.get('severity')}** `{item.get('rule')}`{line}: "
                f"{_cell(wrap_text(str(item.get('message', ''))))}"
            )
    lines += [
        "",
        "Choose **approve** or **reject**, type your name, and add a comment if you like.",
    ]
    return "\n".join(lines)


async def table_facts(lc: TaskCursor, task: Task, code: GeneratedCode) -> list[TableInfo] | str:
    """What the task's platform says of the tables the code names, or why it could not say
    (the form then shows "unknown" and the reason; the run log says it too)."""
    names = table_names(code, task.platform)
    if not names:
        return []
    try:
        platform = await lc.rt.platform_for(task)
        try:
            return await platform.table_info(names)
        finally:
            await platform.aclose()
    except AADAPError as exc:  # the form still shows; the reviewer reads why it cannot say
        get_run_logger().warning(
            "approval form: the platform could not say which tables exist: %s", exc.message
        )
        return exc.message


async def wait_for_decision(
    lc: TaskCursor, request: ApprovalRequest, code: GeneratedCode
) -> ApprovalDecision:
    """Pause (or suspend, under a deployment) until a reviewer decides or the request expires."""
    task = await lc.task()

    async def form() -> type[ApprovalDecision]:
        tables = await table_facts(lc, task, code)
        return ApprovalDecision.with_initial_data(
            description=describe(request, code, f"{task.cost_usd:.6f}", task, tables)
        )

    now = dt.datetime.now(dt.UTC)
    remaining = int((request.expires_at - now).total_seconds()) if request.expires_at else None
    if remaining is not None and remaining <= 0:
        await _expire(lc, request)
    try:
        if current_deployment.id is not None:
            stored = await _stored_decision(request)
            get_run_logger().info(
                "approval %s: %s",
                pause_key(request),
                "decided" if stored is not None else "waiting for a reviewer",
            )
            if stored is not None:
                return stored
            decision = await asuspend_flow_run(
                wait_for_input=await form(),
                timeout=None if remaining is None else remaining + _GRACE,
                key=pause_key(request),
            )
        else:
            # Our deadline, not the server's: Prefect's own pause timeout is set a little later so
            # that AADAP expires the request and the run fails with APPROVAL_EXPIRED.
            limit = remaining if remaining is not None else 3600
            described = await form()
            async with asyncio.timeout(limit):
                decision = await _pause_until_decided_or_cancelled(lc, request, described, limit)
    except (FlowPauseTimeout, TimeoutError) as exc:
        await _expire(lc, request, cause=exc)
    assert decision is not None  # wait_for_input always yields an input when the run resumes
    return decision


async def _pause_until_decided_or_cancelled(
    lc: TaskCursor, request: ApprovalRequest, form: Any, limit: int
) -> ApprovalDecision:
    """Pause in-process until a reviewer decides, watching the run meanwhile.

    Prefect's in-process pause waits for its timeout even when the run is cancelled
    (it only looks for the run to be resumed), which left the request PENDING and the
    process waiting for nothing. Here a run cancelled while it waits stops waiting with
    ``TaskCancelledError``: the lifecycle then cancels the task, and its request with it."""
    poll = lc.rt.settings.safety.approval_poll_seconds
    flow_run_id = current_flow_run.id
    pause = asyncio.ensure_future(
        apause_flow_run(
            wait_for_input=form, timeout=limit + _GRACE, poll_interval=poll, key=pause_key(request)
        )
    )
    try:
        while True:
            await asyncio.wait([pause], timeout=poll)
            if pause.done():
                decision: ApprovalDecision = pause.result()
                return decision
            try:
                state = None if flow_run_id is None else await read_state(str(flow_run_id))
            except IntegrationError as exc:  # the API is away for a moment: keep waiting
                get_run_logger().warning("approval %s: %s", pause_key(request), exc.message)
                continue
            if state is not None and (state.is_cancelled() or state.is_cancelling()):
                raise TaskCancelledError(
                    f"flow run {flow_run_id} was {state.name} in Prefect while it waited for "
                    f"approval request {request.id}; the code was not deployed",
                    task_id=str(lc.task_id),
                    details={"approval_id": str(request.id), "flow_run_state": state.name},
                )
    finally:
        if not pause.done():
            pause.cancel()
            await asyncio.wait([pause])


async def _stored_decision(request: ApprovalRequest) -> ApprovalDecision | None:
    """The decision a reviewer already submitted for this request, read before suspending again.

    Prefect re-runs a resumed suspended flow from the top; proposing the suspend
    again would make the server discard the stored input, so look for it first.
    """
    keyset = keyset_from_base_key(f"suspended-{pause_key(request)}")
    value = await aread_flow_run_input(keyset["response"])
    return None if not value else ApprovalDecision(**value)


async def _expire(
    lc: TaskCursor, request: ApprovalRequest, cause: BaseException | None = None
) -> None:
    await approval_gate.expire(lc, request.id)
    raise ApprovalExpiredError(
        f"nobody approved or rejected request {request.id} before it expired at {request.expires_at}; "
        "the code was not deployed",
        task_id=str(lc.task_id),
        details={"approval_id": str(request.id)},
    ) from cause


async def record(
    lc: TaskCursor, request_id: uuid.UUID, decision: ApprovalDecision
) -> ApprovalRequest:
    return await approval_gate.record_decision(
        lc,
        request_id,
        approve=decision.decision == "approve",
        reviewer=decision.reviewer,
        comment=decision.comment.strip() or None,
    )


#: how a decision reaches a waiting run (``decision.submit``; kept here for callers)
submit = decision.submit


async def resume_in_process(flow_run_id: str, run_input: dict[str, Any]) -> None:
    """``decision.submit`` through Prefect's client: for an API that runs inside this
    process (no server address), which plain HTTP cannot reach."""
    state = await read_state(flow_run_id)
    if state is None or not state.is_paused():  # Paused, or Suspended under a deployment
        raise decision.not_waiting(
            flow_run_id, "unknown to the Prefect API" if state is None else str(state.name)
        )
    try:
        await aresume_flow_run(uuid.UUID(flow_run_id), run_input=run_input)
    except NotPausedError as exc:
        raise decision.not_waiting(flow_run_id, "no longer paused") from exc
    except RuntimeError as exc:
        raise decision.refused(flow_run_id, str(exc)) from exc


def input_schema() -> dict[str, Any]:
    """The JSON schema of the form (what the UI renders and the API validates)."""
    schema: dict[str, Any] = json.loads(json.dumps(ApprovalDecision.model_json_schema()))
    return schema
