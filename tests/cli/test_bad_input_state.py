"""Bad input about state, table-driven: decisions on approval requests that are not
waiting, reviewer names with nothing in them, and idempotency keys reused for another
request. Each row runs the installed ``aadap`` on one seeded embedded home and checks the
exit status, the error code, that no traceback reaches the terminal, and that nothing
in the database changed."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aadap.db import migrate
from aadap.db.session import Database
from tests import builders
from tests.cli import aadap
from tests.conftest import settings_for

LOAD = "load data/orders.csv into raw_orders"
KEY = "nightly-2026-12-07"
IDS = {name: uuid.uuid4() for name in ("CANCELLED", "EXPIRED", "APPROVED", "REJECTED", "FORBIDDEN")}
NO_RUN = uuid.uuid4()  # PENDING, but its task never had a flow run
DEAD = uuid.uuid4()  # PENDING, but the process that ran its task is gone


def _dead_pid() -> int:
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    return pid


async def _seed(base: Path, working_dir: str, *, orphan_too: bool) -> None:
    url = f"sqlite+aiosqlite:///{base / 'aadap' / 'aadap.db'}"
    db = Database(settings_for(url, base / "aadap"))
    try:
        await migrate.upgrade(db.engine)
        done = builders.task(
            id=uuid.uuid4(), current_state="COMPLETED", request=LOAD, title=LOAD,
            idempotency_key=KEY, metadata_={"working_dir": working_dir, "connection": None},
        )  # fmt: skip
        waiting = builders.task(id=uuid.uuid4(), current_state="IN_REVIEW")
        runner = {"host": socket.gethostname(), "pid": _dead_pid(), "deployment": False}
        orphan = builders.task(
            id=uuid.uuid4(), current_state="IN_REVIEW", flow_run_id=str(uuid.uuid4()),
            metadata_={"runner": runner},
        )  # fmt: skip
        rows: list[Any] = [done, waiting]
        rows += [
            builders.approval(done.id, id=approval_id, status=status, decided_by="someone")
            for status, approval_id in IDS.items()
        ]
        rows.append(builders.approval(waiting.id, id=NO_RUN))
        if orphan_too:
            rows += [orphan, builders.approval(orphan.id, id=DEAD)]
        async with db.transaction() as session:
            for row in rows:
                session.add(row)
                await session.flush()
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One seeded home for the approval rows, one for ``aadap run`` (which closes the
    orphaned task of the first at its start, as it should)."""
    made = {}
    for purpose in ("approvals", "run"):
        base = tmp_path_factory.mktemp(f"bad-input-state-{purpose}")
        (base / "aadap").mkdir()
        asyncio.run(_seed(base, str(base.resolve()), orphan_too=purpose == "approvals"))
        made[purpose] = base
    return made


def _snapshot(base: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(base / "aadap" / "aadap.db")) as con:
        return [
            *con.execute(
                "SELECT id, status, decided_by, reason FROM approval_requests ORDER BY id"
            ),
            *con.execute("SELECT id, current_state FROM tasks ORDER BY id"),
            *con.execute("SELECT count(*) FROM state_transitions"),
            *con.execute("SELECT count(*) FROM cost_records"),
        ]


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    exit: int
    code: str | None  # the error code on stderr, None for a success
    says: tuple[str, ...] = ()  # more text the output must hold
    never: tuple[str, ...] = field(default=("rejectd",))


CASES = {
    "approve a request closed as CANCELLED": Case(
        ("approvals", "approve", str(IDS["CANCELLED"])), 2, "APPROVAL_NOT_WAITING",
        ("is CANCELLED", "nothing was changed"),
    ),
    "reject a request closed as CANCELLED": Case(
        ("approvals", "reject", str(IDS["CANCELLED"])[:8]), 2, "APPROVAL_NOT_WAITING",
        ("is CANCELLED",),
    ),
    "approve an EXPIRED request": Case(
        ("approvals", "approve", str(IDS["EXPIRED"])), 2, "APPROVAL_NOT_WAITING", ("is EXPIRED",)
    ),
    "reject an EXPIRED request": Case(
        ("approvals", "reject", str(IDS["EXPIRED"])), 2, "APPROVAL_NOT_WAITING", ("is EXPIRED",)
    ),
    "approve an APPROVED request again": Case(
        ("approvals", "approve", str(IDS["APPROVED"])), 2, "APPROVAL_NOT_WAITING", ("is APPROVED",)
    ),
    "reject a REJECTED request again": Case(
        ("approvals", "reject", str(IDS["REJECTED"])), 2, "APPROVAL_NOT_WAITING", ("is REJECTED",)
    ),
    "approve a FORBIDDEN request": Case(
        ("approvals", "approve", str(IDS["FORBIDDEN"])), 2, "APPROVAL_NOT_WAITING",
        ("is FORBIDDEN",),
    ),
    "approve a request whose task has no flow run": Case(
        ("approvals", "approve", str(NO_RUN)), 2, "APPROVAL_NOT_WAITING", ("no flow run",)
    ),
    "approve a request whose run's process is gone": Case(
        ("approvals", "approve", str(DEAD)), 2, "APPROVAL_NOT_WAITING",
        ("is gone", "aadap reconcile"),
    ),
    "reject a request whose run's process is gone": Case(
        ("approvals", "reject", str(DEAD), "--comment", "no"), 2, "APPROVAL_NOT_WAITING",
        ("is gone",),
    ),
    "a reviewer name of spaces": Case(
        ("approvals", "approve", str(DEAD), "--reviewer", "   "), 2, "INVALID_REQUEST",
        ("--reviewer", "visible character"),
    ),
    "a reviewer name of tabs and newlines": Case(
        ("approvals", "reject", str(NO_RUN), "--reviewer", "\t\n"), 2, "INVALID_REQUEST",
        ("--reviewer",),
    ),
    "an empty reviewer name": Case(
        ("approvals", "approve", str(NO_RUN), "--reviewer", ""), 2, "INVALID_REQUEST",
        ("--reviewer",),
    ),
    "a comment longer than the form allows": Case(
        ("approvals", "approve", str(NO_RUN), "--comment", "x" * 4001), 2, "INVALID_REQUEST",
        ("comment",),
    ),
    "the key of a task made from another request": Case(
        ("run", "load data/orders.csv into other_table", "--idempotency-key", KEY), 2,
        "IDEMPOTENCY_CONFLICT", (KEY, "already names task", "differs in text"),
    ),
    "the key of a task made for another environment": Case(
        ("run", LOAD, "--environment", "PRODUCTION", "--idempotency-key", KEY), 2,
        "IDEMPOTENCY_CONFLICT", ("environment",),
    ),
    "the key of a task made with another token budget": Case(
        ("run", LOAD, "--token-budget", "7", "--idempotency-key", KEY), 2,
        "IDEMPOTENCY_CONFLICT", ("token_budget",),
    ),
    "the key again with the same request runs nothing": Case(
        ("run", LOAD, "--idempotency-key", KEY), 0, None,
        ("state     COMPLETED", "nothing was run"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_state_input_is_one_clear_error_and_changes_nothing(
    homes: dict[str, Path], case: Case
) -> None:
    home = homes[case.args[0] if case.args[0] == "run" else "approvals"]
    before = _snapshot(home)

    done = aadap(*case.args, home=home, timeout=120)

    output = done.stdout + done.stderr
    assert done.returncode == case.exit, output[-3000:]
    if case.code is not None:
        assert f"error [{case.code}]" in done.stderr, output[-3000:]
    else:
        assert "error [" not in output
    for text in case.says:
        assert text in output, output[-3000:]
    for text in case.never:
        assert text not in output
    assert "Traceback" not in output
    assert _snapshot(home) == before
