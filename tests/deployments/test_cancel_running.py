"""Cancelling a lifecycle flow run from Prefect while it is RUNNING under ``aadap serve``.

The runner kills the flow-run process and runs the flow's ``on_cancellation`` hooks
itself, in the runner process; ``hooks.on_flow_cancelled`` must then close the task
as CANCELLED and settle the step's cost rows (the killed step ran no hook of its own).
To catch the run mid-step, the LLM is a fake OpenAI server that holds the answer to a
chosen call of the parser step until the server is released at teardown.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from aadap.db import models
from tests.deployments.conftest import Served, aadap_serve
from tests.fakes.openai_server import FakeOpenAIServer, Fault

pytestmark = [pytest.mark.prefect, pytest.mark.slow, pytest.mark.postgres]

HELD_SECONDS = 300.0
"""How long the fake holds an answer unless released first (teardown releases it)."""


@pytest.fixture(scope="module")
def held_llm() -> Iterator[FakeOpenAIServer]:
    """A fake OpenAI server; a test queues ``Fault.slow(HELD_SECONDS)`` to hold an answer."""
    with FakeOpenAIServer() as server:
        yield server
    # leaving the block released the held answers (nobody was left to read them)
    assert server.errors == [], server.errors


@pytest.fixture(scope="module")
def served_held(
    prefect_server: str, held_llm: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``aadap serve`` with the real OpenAI-compatible client pointed at the fake."""
    with aadap_serve(
        prefect_server,
        tmp_path_factory.mktemp("aadap-served-held"),
        AADAP_LLM_PROVIDER="openai",
        AADAP_LLM_BASE_URL=held_llm.openai_base_url,
        AADAP_LLM_API_KEY=held_llm.api_key,
        AADAP_LLM_TIMEOUT_SECONDS=str(HELD_SECONDS),
        AADAP_LLM_MAX_RETRIES="0",
        # the runner inherits PYTEST_CURRENT_TEST: the fake is the point, so let the client run
        AADAP_LLM_ALLOW_IN_TESTS="true",
    ) as serving:
        yield serving


async def _rows(served: Served, model: type[Any], task_id: uuid.UUID | None = None) -> list[Any]:
    engine = create_async_engine(
        served.app_db_url.replace("postgresql://", "postgresql+psycopg://")
    )
    table = model.__table__
    query = select(table) if task_id is None else select(table).where(table.c.task_id == task_id)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).mappings())
    finally:
        await engine.dispose()


def _serve_log(served: Served) -> str:
    """The runner's and the flow run's log lines, without the tracebacks between them."""
    lines = (served.home / "serve.log").read_text().splitlines()
    logged = [line for line in lines if re.match(r"\d\d:\d\d:\d\d", line)]
    return "\n" + "\n".join(logged[-40:])


async def _task_of(served: Served, flow_run_id: str) -> Any:
    return next(
        (t for t in await _rows(served, models.Task) if t["flow_run_id"] == flow_run_id), None
    )


async def _cancel_while_held(
    served: Served, held_llm: FakeOpenAIServer, text: str, *, calls: int
) -> tuple[str, Any]:
    """Trigger a lifecycle run through the API, wait until its ``calls``-th LLM call is held
    (the parser step is running), cancel the run as ``prefect flow-run cancel`` does, and
    wait for the flow run and the task to end. Returns the flow run id and the task row."""
    loop = asyncio.get_running_loop()
    before = len(held_llm.requests)
    async with httpx.AsyncClient(base_url=served.api, timeout=30) as http:
        deployment = (await http.get("/deployments/name/task-lifecycle/task-lifecycle")).json()
        created = await http.post(
            f"/deployments/{deployment['id']}/create_flow_run",
            json={"parameters": {"request": {"text": text}}},
        )
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]

        deadline = loop.time() + 30
        while (task := await _task_of(served, run_id)) is None or len(
            held_llm.requests
        ) < before + calls:
            assert loop.time() < deadline, (
                f"the run never reached LLM call {calls} (task {task}); " + _serve_log(served)
            )
            await asyncio.sleep(0.2)
        assert task["current_state"] == "PARSING"
        assert (await http.get(f"/flow_runs/{run_id}")).json()["state"]["type"] == "RUNNING"

        cancelling = await http.post(
            f"/flow_runs/{run_id}/set_state", json={"state": {"type": "CANCELLING"}}
        )
        assert cancelling.status_code in (200, 201), cancelling.text
        assert cancelling.json()["status"] == "ACCEPT", cancelling.json()

        # the runner kills the process, runs the on_cancellation hooks, then sets Cancelled
        deadline = loop.time() + 30
        while (state := (await http.get(f"/flow_runs/{run_id}")).json()["state"])["type"] not in (
            "COMPLETED", "FAILED", "CRASHED", "CANCELLED"
        ):  # fmt: skip
            assert loop.time() < deadline, f"flow run still {state['type']}; " + _serve_log(served)
            await asyncio.sleep(0.2)
        assert state["type"] == "CANCELLED", state

    deadline = loop.time() + 5  # the hooks ran before Cancelled was set: no more than a moment
    while (task := await _task_of(served, run_id))["current_state"] != "CANCELLED":
        assert loop.time() < deadline, (
            f"the task stayed {task['current_state']} after its flow run was cancelled; "
            + _serve_log(served)
        )
        await asyncio.sleep(0.2)
    # the requests the run made, and nothing retried the held call after the kill
    assert [r.path for r in held_llm.requests[before:]] == ["/v1/chat/completions"] * calls
    return run_id, task


async def _cancelled_trail(served: Served, run_id: str, task_id: uuid.UUID) -> dict[str, Any]:
    """Check the transition and the ``flow.cancelled`` row; return that row."""
    trail = sorted(
        await _rows(served, models.StateTransition, task_id), key=lambda t: t["sequence_num"]
    )
    assert [t["sequence_num"] for t in trail] == list(range(1, len(trail) + 1))
    last = trail[-1]
    assert (last["from_state"], last["to_state"], last["triggered_by"]) == (
        "PARSING",
        "CANCELLED",
        "prefect",
    ), [(t["from_state"], t["to_state"], t["triggered_by"]) for t in trail]
    cancelled_rows = [
        log
        for log in await _rows(served, models.TaskLog, task_id)
        if log["event"] == "flow.cancelled"
    ]
    assert len(cancelled_rows) == 1, cancelled_rows
    row: dict[str, Any] = dict(cancelled_rows[0])
    assert (row["flow_run_id"], row["level"], row["error_code"]) == (
        run_id,
        "WARNING",
        "TASK_CANCELLED",
    )
    return row


async def test_cancelling_a_running_lifecycle_in_prefect_cancels_the_task(
    served_held: Served, held_llm: FakeOpenAIServer
) -> None:
    held_llm.fail_next(Fault.slow(HELD_SECONDS))  # the parser's first call never returns
    run_id, task = await _cancel_while_held(
        served_held, held_llm, "load orders.csv into orders_cancelled", calls=1
    )
    logged = await _cancelled_trail(served_held, run_id, task["id"])
    assert logged["details"]["settled_costs"] == 0
    # the held call never returned: no cost row for it, and nothing left pending
    assert await _rows(served_held, models.CostRecord, task["id"]) == []
    assert task["tokens_used"] == 0


async def test_calls_that_returned_before_the_cancellation_are_settled(
    served_held: Served, held_llm: FakeOpenAIServer
) -> None:
    # the parser's first answer ({"ok": true}) fails validation; the corrected ask is held
    held_llm.fail_next(Fault(status=200, body=None), Fault.slow(HELD_SECONDS))
    run_id, task = await _cancel_while_held(
        served_held, held_llm, "load customers.csv into customers_cancelled", calls=2
    )
    logged = await _cancelled_trail(served_held, run_id, task["id"])
    costs = await _rows(served_held, models.CostRecord, task["id"])
    # the answered call is in the ledger once, settled: the killed step ran no hook, and
    # reconcile never looks at a CANCELLED task, so the cancellation hook had to settle it
    assert [(c["kind"], c["status"], c["tokens_in"], c["tokens_out"]) for c in costs] == [
        ("llm", "orphaned", 12, 5)
    ]
    assert logged["details"]["settled_costs"] == 1
    assert task["tokens_used"] == 17
