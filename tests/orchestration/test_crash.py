"""``kill -9`` of a running lifecycle, then reconcile (the service and ``aadap reconcile``)
or resume: the trail is closed and every LLM call that returned before the kill is on the
cost ledger exactly once.

The lifecycle runs in a real subprocess (``_scripts/blocked_lifecycle.py``) on the test
database and the test Prefect API, with an LLM whose developer call never returns.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL
from sqlalchemy import select

from aadap.core.enums import CostStatus
from aadap.db import models
from aadap.db.session import Database
from aadap.services import outcome
from tests.orchestration.conftest import DATA, HarnessFactory

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "_scripts" / "blocked_lifecycle.py"
AADAP = Path(sys.executable).parent / "aadap"
LOAD = f"load {DATA / 'orders.csv'} into a table called orders_raw"
STARTUP_TIMEOUT = 90.0  # importing prefect and running two steps on a busy 2-core machine


@dataclass
class Killed:
    task_id: uuid.UUID
    returned: list[str]  # agents whose LLM call returned before the kill, in order


def child_env(db: Database, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AADAP_", "PREFECT_"))}
    env.update(
        {
            "AADAP_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
            "AADAP_HOME": str(home / "aadap"),
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
        }
    )
    return env


KillMidRun = Callable[..., Awaitable[Killed]]


@pytest.fixture
def kill_mid_run(prefect_api: None, db: Database, tmp_path: Path) -> Iterator[KillMidRun]:
    """Start the blocked lifecycle, wait until it blocks in the call of the agent given
    (the developer's second call by default), kill -9 it."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(journal: Path, block_on: str) -> subprocess.Popen[bytes]:
        with (tmp_path / "child.log").open("wb") as output:
            proc = subprocess.Popen(
                [sys.executable, str(SCRIPT), str(journal), str(DATA.parent), LOAD, block_on],
                cwd=ROOT,
                env=child_env(db, tmp_path),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        return proc

    async def run(block_on: str = "developer") -> Killed:
        journal = tmp_path / "journal.txt"
        proc = spawn(journal, block_on)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        lines: list[str] = []
        while f"blocked {block_on}" not in lines:
            if proc.poll() is not None:
                pytest.fail(
                    f"the lifecycle exited ({proc.returncode}) before blocking: "
                    + (tmp_path / "child.log").read_text(errors="replace")[-3000:]
                )
            if time.monotonic() > deadline:
                pytest.fail(f"the lifecycle did not reach the {block_on} in {STARTUP_TIMEOUT}s")
            await asyncio.sleep(0.05)
            lines = journal.read_text().splitlines() if journal.exists() else []
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        async with db.sessions() as session:
            task = (await session.execute(select(models.Task))).scalar_one()
        assert task.metadata_["runner"]["pid"] == proc.pid
        returned = [line.split()[1] for line in lines if line.startswith("returned ")]
        return Killed(task.id, returned)

    yield run
    for proc in started:  # a failed wait above must not leave the child running
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


async def rows(db: Database, model: type[Any], task_id: uuid.UUID) -> list[Any]:
    async with db.sessions() as session:
        return list(
            (await session.execute(select(model).where(model.task_id == task_id))).scalars()
        )


async def assert_trail_closed(db: Database, killed: Killed) -> None:
    async with db.sessions() as session:
        task = await session.get(models.Task, killed.task_id)
    assert task is not None
    assert task.current_state == "FAILED"
    trail = sorted(await rows(db, models.StateTransition, task.id), key=lambda t: t.sequence_num)
    assert [t.sequence_num for t in trail] == list(range(1, len(trail) + 1))
    assert (trail[-1].from_state, trail[-1].to_state, trail[-1].triggered_by) == (
        "IN_DEVELOPMENT",
        "FAILED",
        "reconcile",
    )
    orphaned = [
        log for log in await rows(db, models.TaskLog, task.id) if log.event == "task.orphaned"
    ]
    assert [(log.level, log.source) for log in orphaned] == [("CRITICAL", "reconcile")]
    # every call that returned before the kill is on the ledger exactly once, and settled:
    # the finished steps' calls by their hooks, the running step's call by reconcile
    llm = [c for c in await rows(db, models.CostRecord, task.id) if c.kind == "llm"]
    assert killed.returned == ["parser", "planner", "developer"]
    assert sorted(c.agent_type for c in llm) == sorted(killed.returned)
    assert len({c.call_id for c in llm}) == len(llm)
    assert sorted((c.agent_type, c.status) for c in llm) == [
        ("developer", CostStatus.ORPHANED.value),
        ("parser", CostStatus.SUCCEEDED.value),
        ("planner", CostStatus.SUCCEEDED.value),
    ]
    assert task.tokens_used == sum(c.tokens_in + c.tokens_out for c in llm) > 0
    assert task.cost_usd == sum(c.cost_usd or 0 for c in llm)
    settled = [log for log in orphaned if log.details.get("settled_costs") == 1]
    assert len(settled) == 1


@pytest.mark.slow
async def test_reconcile_closes_the_trail_of_a_killed_lifecycle(
    kill_mid_run: KillMidRun, db: Database
) -> None:
    killed = await kill_mid_run()

    found = await outcome.reconcile(db)

    assert [o.task_id for o in found] == [killed.task_id]
    assert "is gone" in found[0].reason
    await assert_trail_closed(db, killed)
    # a second pass finds nothing and writes nothing
    assert await outcome.reconcile(db) == []
    await assert_trail_closed(db, killed)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])  # the service test above covers both databases
async def test_aadap_reconcile_closes_the_trail_of_a_killed_lifecycle(
    kill_mid_run: KillMidRun, db: Database, tmp_path: Path
) -> None:
    killed = await kill_mid_run()

    done = await asyncio.to_thread(
        subprocess.run,
        [str(AADAP), "reconcile"],
        env=child_env(db, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert str(killed.task_id) in done.stdout
    assert "IN_DEVELOPMENT → FAILED" in done.stdout
    assert json.loads(done.stdout.splitlines()[-1])["reconciled"] == 1
    await assert_trail_closed(db, killed)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_killed_lifecycle_resumes_without_repeating_finished_calls(
    kill_mid_run: KillMidRun, make_harness: HarnessFactory, db: Database
) -> None:
    killed = await kill_mid_run()
    h = make_harness()

    state = await h.run(task_id=str(killed.task_id))

    assert state.is_completed(), state.message
    assert h.agents_called() == ["developer", "reviewer"]
    async with db.sessions() as session:
        task = await session.get(models.Task, killed.task_id)
    assert task is not None and task.current_state == "COMPLETED"
    trail = sorted(await rows(db, models.StateTransition, task.id), key=lambda t: t.sequence_num)
    assert [t.sequence_num for t in trail] == list(range(1, len(trail) + 1))
    assert [t.to_state for t in trail].count("IN_DEVELOPMENT") == 1
    assert len(await rows(db, models.Execution, task.id)) == 1
    llm = [c for c in await rows(db, models.CostRecord, task.id) if c.kind == "llm"]
    assert sorted(c.agent_type for c in llm) == sorted(killed.returned + h.agents_called())
    assert task.tokens_used == sum(c.tokens_in + c.tokens_out for c in llm)
    # the killed run's calls can never be settled by its hooks: they must not stay pending
    assert [c.agent_type for c in llm if c.status == CostStatus.PENDING.value] == []


@pytest.mark.slow
async def test_a_step_that_finished_keeps_its_calls_succeeded_when_killed_right_after(
    kill_mid_run: KillMidRun, db: Database
) -> None:
    """Killed in the planner's first call: the parser step had committed its finish, and
    nothing was written since. Its call was settled by that same commit, so reconcile
    finds it ``succeeded``, not ``orphaned``."""
    killed = await kill_mid_run("planner")
    assert killed.returned == ["parser"]

    [orphan] = await outcome.reconcile(db)

    assert orphan.task_id == killed.task_id
    llm = [c for c in await rows(db, models.CostRecord, killed.task_id) if c.kind == "llm"]
    assert [(c.agent_type, c.status) for c in llm] == [("parser", CostStatus.SUCCEEDED.value)]
    async with db.sessions() as session:
        task = await session.get(models.Task, killed.task_id)
    assert task is not None and task.current_state == "FAILED"
    trail = sorted(await rows(db, models.StateTransition, task.id), key=lambda t: t.sequence_num)
    assert [t.to_state for t in trail][-3:] == ["PARSED", "PLANNING", "FAILED"]
    assert task.tokens_used == sum(c.tokens_in + c.tokens_out for c in llm) > 0
