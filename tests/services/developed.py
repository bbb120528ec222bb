"""A task driven through the services, with the offline LLM, up to its developed code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aadap.agents import GeneratedCode, Plan, Requirement
from aadap.agents.offline import OfflineLLMClient
from aadap.core.requests import TaskRequest
from aadap.db.models import Task
from aadap.db.session import Database
from aadap.services import authoring, context, tasks
from aadap.services.cursor import TaskCursor
from aadap.services.runtime import Runtime
from tests.conftest import settings_for

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


@dataclass(frozen=True)
class Developed:
    lc: TaskCursor
    task: Task
    requirement: Requirement
    plan: Plan
    code: GeneratedCode

    def run_context(self) -> context.RunContext:
        return _run_context(self.task)


def _run_context(task: Task) -> context.RunContext:
    return context.RunContext(task_id=task.id, correlation_id=task.correlation_id)


async def develop(db: Database, home: Path, table: str) -> Developed:
    """Create a task loading ``orders.csv`` into ``table`` and run parse, plan, route and
    develop on it."""
    settings = settings_for(db.engine.url.render_as_string(hide_password=False), home)
    rt = Runtime.build(settings, db, OfflineLLMClient())
    request = TaskRequest.parse(
        {"text": f"load {DATA / 'orders.csv'} into {table}", "working_dir": str(DATA)}
    )
    task, _ = await tasks.create(db, settings, request)
    lc = TaskCursor(rt, task.id)
    with context.bind(_run_context(task)):
        requirement = await authoring.parse(lc)
        plan = await authoring.plan(lc, requirement)
        route = await authoring.route(lc, requirement, plan)
        code = await authoring.develop(lc, requirement, plan, route)
    return Developed(lc, task, requirement, plan, code)
