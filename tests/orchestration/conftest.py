"""A real Prefect API for lifecycle tests, and a harness that runs the real flow on the test database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import State
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from aadap.agents.offline import OfflineLLMClient
from aadap.core.config import PriceOverride, RetrySettings, Settings
from aadap.db import models
from aadap.db.session import Database
from aadap.llm.testing import FaultInjectingLLMClient, ScriptStep
from aadap.orchestration.bound_runtime import use_runtime
from aadap.services.runtime import Runtime
from flows.task_lifecycle import task_lifecycle
from flows.task_resume import task_resume
from tests.conftest import IN_CI, postgres_reachable, prefect_server_on_postgres, settings_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DATA = EXAMPLES / "data"


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One real Prefect API for the session: a server on PostgreSQL where one answers (always in
    CI), else Prefect's own test harness (a temporary server on SQLite)."""
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        if postgres_reachable() or IN_CI:
            with prefect_server_on_postgres(tmp_path_factory.mktemp("prefect-api")):
                yield
        else:
            with prefect_test_harness(server_startup_timeout=90):
                yield


class Harness:
    """Runs the real ``task-lifecycle`` flow with a fault-injecting LLM over the offline provider."""

    def __init__(self, settings: Settings, db: Database, llm: FaultInjectingLLMClient) -> None:
        self.settings = settings
        self.db = db
        self.llm = llm
        self.runtime = Runtime.build(settings, db, llm)

    async def run(
        self, text: str | None = None, *, task_id: str | None = None, **fields: Any
    ) -> State[Any]:
        request = (
            None if text is None else {"text": text, "working_dir": str(DATA.parent), **fields}
        )
        with use_runtime(self.runtime):
            if request is None:
                assert task_id is not None, "a run needs a request or a task id"
                state: State[Any] = await task_resume(task_id=task_id, return_state=True)
            else:
                state = await task_lifecycle(request=request, return_state=True)
        return state

    def agents_called(self) -> list[str]:
        return [r.agent for r in self.llm.requests]

    async def only_task(self) -> models.Task:
        async with self.db.sessions() as session:
            return (await session.execute(select(models.Task))).scalar_one()

    async def rows(self, model: type[Any], task_id: uuid.UUID | None = None) -> list[Any]:
        async with self.db.sessions() as session:
            stmt = select(model)
            if task_id is not None:
                stmt = stmt.where(model.task_id == task_id)
            return list((await session.execute(stmt)).scalars())


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def make_harness(prefect_api: None, db: Database, tmp_path: Path) -> HarnessFactory:
    def build(
        *,
        faults: dict[str, list[ScriptStep]] | None = None,
        price: PriceOverride | None = None,
        **overrides: Any,
    ) -> Harness:
        overrides.setdefault(
            "retries", RetrySettings(task_retries=3, backoff_seconds=0, jitter_factor=0)
        )
        # the runs read the bundled examples and files the tests write under tmp_path
        overrides.setdefault("data_root", Path(os.path.commonpath([EXAMPLES, tmp_path])))
        url = db.engine.url.render_as_string(hide_password=False)
        settings = settings_for(url, tmp_path / "home", **overrides)
        llm = FaultInjectingLLMClient(OfflineLLMClient(), faults or {}, price=price)
        return Harness(settings, db, llm)

    return build
