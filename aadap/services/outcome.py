"""How a lifecycle ends when it does not complete: failed, cancelled, or orphaned."""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aadap.core.enums import LogLevel
from aadap.core.exceptions import AADAPError
from aadap.core.states import TERMINAL_STATES, TaskState
from aadap.db.repos import task_repo
from aadap.db.session import Database
from aadap.services import approvals, costs, ledger, logs

S = TaskState


async def close(
    db: Database,
    task_id: uuid.UUID,
    *,
    to: TaskState,
    by: str,
    reason: str,
    error: BaseException | None = None,
) -> bool:
    """Move a live task to FAILED or CANCELLED (no-op when it already ended), and close its
    PENDING approval request as CANCELLED with the reason, in one transaction: a request
    ends with its run. Returns True if the task moved."""
    async with db.transaction() as session:
        now = await ledger.current_state(session, task_id)
        ended = now in TERMINAL_STATES
        await approvals.close_pending(
            session, task_id=task_id, by=by,
            reason=f"its task had already ended {now.value}" if ended
            else f"its run ended {to.value}: {reason}",
        )  # fmt: skip
        if ended:
            return False
        meta = {"error": error.to_dict()} if isinstance(error, AADAPError) else {}
        await ledger.record_transition(
            session,
            task_id=task_id,
            to_state=to,
            triggered_by=by,
            reason=reason[:4000],
            expected_from=now,
            metadata=meta,
        )
    return True


async def fail(
    db: Database, task_id: uuid.UUID, error: BaseException, *, by: str = "lifecycle"
) -> bool:
    code = error.error_code if isinstance(error, AADAPError) else type(error).__name__
    message = error.message if isinstance(error, AADAPError) else str(error)
    return await close(db, task_id, to=S.FAILED, by=by, reason=f"[{code}] {message}", error=error)


async def cancel(db: Database, task_id: uuid.UUID, *, by: str, reason: str) -> bool:
    return await close(db, task_id, to=S.CANCELLED, by=by, reason=reason)


def runner_identity(*, deployment: bool = False) -> dict[str, object]:
    """Enough to tell later whether the process running a lifecycle is still alive.

    ``deployment``: the run belongs to a Prefect deployment, so it may be suspended
    with no process at all; only Prefect can say whether it is still alive.
    """
    pid = os.getpid()
    return {
        "deployment": deployment,
        "host": socket.gethostname(),
        "pid": pid,
        "start_ticks": _own_start_ticks(pid),
    }


@functools.cache
def _own_start_ticks(pid: int) -> int | None:
    """This process's start time (fixed for its life): read once per process, not once
    per lifecycle (a file read, which lets go of the GIL). Keyed by pid, so a forked
    child reads its own."""
    return _start_ticks(pid)


def _start_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def process_alive(runner: dict[str, object]) -> bool | None:
    """True/False for a runner on this host; None when it ran elsewhere (ask Prefect)."""
    if runner.get("host") != socket.gethostname():
        return None
    pid = runner.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    ticks = _start_ticks(pid)
    return ticks is None or ticks == runner.get("start_ticks")


@dataclass(frozen=True)
class Orphan:
    task_id: uuid.UUID
    state: str
    flow_run_id: str | None
    reason: str
    prefect_state: str | None = None

    @property
    def cancelled(self) -> bool:
        """Someone cancelled the run in Prefect (e.g. while it was suspended, with no process to run a hook)."""
        return self.prefect_state == "Cancelled"


#: Asks the orchestrator whether a flow run has ended: its final state's name, or None
#: while it lives (running, waiting, being resumed) or when the run is unknown.
FlowRunProbe = Callable[[str], Awaitable[str | None]]


async def find_orphans(db: Database, probe: FlowRunProbe | None = None) -> list[Orphan]:
    """Live tasks whose runner is gone: its process died here, or Prefect says the run ended."""
    async with db.sessions() as session:
        live = await task_repo.list_tasks_not_in_states(
            session, states=[s.value for s in TERMINAL_STATES]
        )
    orphans = []
    for task in live:
        runner = task.metadata_.get("runner") or {}
        alive = process_alive(runner) if runner else None
        if alive is True:
            continue
        if alive is False and not runner.get("deployment"):
            # an in-process run (`aadap run`) cannot be suspended: a dead process means a
            # crash, whatever Prefect still shows (a killed run stays Running or Paused
            # there), so Prefect is not asked (in embedded mode that would start its API)
            reason = f"its process (pid {runner.get('pid')}) is gone"
            orphans.append(Orphan(task.id, task.current_state, task.flow_run_id, reason))
            continue
        prefect_state = None
        if probe is not None and task.flow_run_id:
            prefect_state = await probe(task.flow_run_id)
        # Prefect knows best: a suspended run has no process on purpose, and is not an orphan
        if prefect_state is not None:
            reason = f"its flow run ended {prefect_state}"
            orphans.append(
                Orphan(task.id, task.current_state, task.flow_run_id, reason, prefect_state)
            )
    return orphans


async def reconcile(db: Database, probe: FlowRunProbe | None = None) -> list[Orphan]:
    """Close the trail of every orphaned task: FAILED, a CRITICAL log row, pending costs settled."""
    found = await find_orphans(db, probe)
    for orphan in found:
        async with db.transaction() as session:
            settled = await costs.orphan_pending(session, task_id=orphan.task_id)
        if orphan.cancelled:
            await cancel(
                db,
                orphan.task_id,
                by="reconcile",
                reason=f"cancelled in Prefect while {orphan.state}",
            )
            continue
        moved = await close(
            db, orphan.task_id, to=S.FAILED, by="reconcile",
            reason=f"orphaned in {orphan.state}: {orphan.reason}",
        )  # fmt: skip
        if moved:
            await logs.write(
                db,
                [
                    logs.entry(
                        level=LogLevel.CRITICAL,
                        event="task.orphaned",
                        message=f"task {orphan.task_id} was left in {orphan.state} ({orphan.reason}); marked FAILED, "
                        f"{settled} pending cost row(s) kept as orphaned",
                        source="reconcile",
                        task_id=orphan.task_id,
                        flow_run_id=orphan.flow_run_id,
                        details={"state": orphan.state, "settled_costs": settled},
                    )
                ],
            )
    return found
