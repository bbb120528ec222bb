"""What a lifecycle's summary (the CLI's last lines, the Prefect report) says, read back
from the rows a run wrote."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from aadap.core.enums import ArtifactType
from aadap.core.exceptions import DeploymentFailedError
from aadap.db.session import Database
from aadap.services import artifacts, costs, outcome
from aadap.services.cursor import TaskCursor
from aadap.services.summary import summarise
from tests.services.developed import develop


async def _save(lc: TaskCursor, kind: ArtifactType, name: str, content: str) -> None:
    async with lc.rt.db.transaction() as session:
        await artifacts.store(
            session,
            artifacts.new_row(task_id=lc.task_id, artifact_type=kind, name=name, content=content),
        )


async def test_the_summary_shows_the_newest_code_the_optimisers_first(
    db: Database, tmp_path: Path
) -> None:
    done = await develop(db, tmp_path / "home", "orders_summary")
    lc, code = done.lc, done.code
    summary = await summarise(db, lc.task_id)
    assert summary.code == code.code
    assert summary.language == code.language.value
    assert summary.result is None and summary.error is None

    second = code.model_copy(update={"code": code.code + "\n-- second version"})
    await _save(lc, ArtifactType.GENERATED_CODE, "code", second.model_dump_json())
    assert (await summarise(db, lc.task_id)).code == second.code

    optimised = code.model_copy(update={"code": code.code + "\n-- optimised"})
    await _save(lc, ArtifactType.OPTIMIZED_CODE, "code", optimised.model_dump_json())
    await _save(lc, ArtifactType.EXECUTION_RESULT, "result", json.dumps({"rows_affected": 7}))
    summary = await summarise(db, lc.task_id)
    assert summary.code == optimised.code
    assert summary.result == {"rows_affected": 7}
    # four LLM calls so far (parser, planner, router rules need none, developer): by agent
    assert summary.llm_calls == sum(entry["calls"] for entry in summary.cost_by_agent)
    assert {entry["agent"] for entry in summary.cost_by_agent} >= {"parser", "developer"}
    assert summary.cost_usd == sum(
        (entry["cost_usd"] for entry in summary.cost_by_agent), Decimal(0)
    )


async def test_the_summary_gives_the_reason_only_for_a_task_that_ended_badly(
    db: Database, tmp_path: Path
) -> None:
    lc = (await develop(db, tmp_path / "home", "orders_summary")).lc
    assert (await summarise(db, lc.task_id)).error is None
    await outcome.fail(db, lc.task_id, DeploymentFailedError("the warehouse is down"))
    summary = await summarise(db, lc.task_id)
    assert summary.state == "FAILED"
    assert summary.error is not None and "the warehouse is down" in summary.error


async def test_the_summary_counts_llm_calls_apart_from_compute_and_adds_cost_exactly(
    db: Database, tmp_path: Path
) -> None:
    done = await develop(db, tmp_path / "home", "orders_summary")
    before = await summarise(db, done.lc.task_id)
    await costs.record_compute(
        db, ctx=None, task_id=done.lc.task_id, platform="local", duration_ms=1000,
        usd_per_hour=Decimal("0.36"), call_id="compute-summary",
    )  # fmt: skip
    after = await summarise(db, done.lc.task_id)
    assert after.llm_calls == before.llm_calls > 0
    deploy = next(entry for entry in after.cost_by_agent if entry["agent"] == "deploy")
    assert (deploy["calls"], deploy["cost_usd"]) == (1, Decimal("0.0001"))
    # the table's rows add up to the summary's count: LLM calls plus compute runs
    assert deploy["kind"] == "compute" and after.compute_runs == 1
    assert {e["kind"] for e in after.cost_by_agent if e["agent"] != "deploy"} == {"llm"}
    assert sum(e["calls"] for e in after.cost_by_agent) == after.llm_calls + after.compute_runs
    assert after.cost_usd == before.cost_usd + Decimal("0.0001")
    assert after.cost_usd == sum((e["cost_usd"] for e in after.cost_by_agent), Decimal(0))
    assert after.tokens_used == sum(e["tokens_in"] + e["tokens_out"] for e in after.cost_by_agent)
