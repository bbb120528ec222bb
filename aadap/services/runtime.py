"""Everything one lifecycle needs, built once per run from settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aadap.agents import AgentContext
from aadap.core.config import Settings
from aadap.core.states import TaskState
from aadap.db.models import Task
from aadap.db.session import Database
from aadap.llm.messages import LLMClient
from aadap.platforms.protocol import Platform
from aadap.services import connections
from aadap.services.metering import MeteredLLMClient
from aadap.services.secrets import BlockResolver


@dataclass
class Runtime:
    settings: Settings
    db: Database
    llm: LLMClient  # metered: budgets are enforced and every call is recorded
    # reads ``prefect-secret:`` references; the orchestration layer supplies it
    secret_blocks: BlockResolver | None = None
    # per task: what its agents see (request facts, local schema), read once per run;
    # cleared when a run starts and after it deploys (the schema may have changed)
    agent_facts: dict[uuid.UUID, AgentContext] = field(default_factory=dict)
    # per task: the state this process last read or committed, the expected state of
    # its next move (``TaskCursor.state``); the compare-and-set in ``ledger`` refuses a
    # move from a stale one, and a failed step drops it so its retry reads afresh
    states: dict[uuid.UUID, TaskState] = field(default_factory=dict)
    # per task: the row as the run read it, for the facts that never change once the
    # task exists (platform, environment, connection); never its state or totals
    task_rows: dict[uuid.UUID, Task] = field(default_factory=dict)

    def forget(self, task_id: uuid.UUID) -> None:
        """Drop what this runtime remembers of a task: the next step reads it afresh."""
        self.agent_facts.pop(task_id, None)
        self.states.pop(task_id, None)
        self.task_rows.pop(task_id, None)

    def remember(self, task: Task) -> None:
        """Start a run of ``task`` from the row just read (or created)."""
        self.forget(task.id)
        self.states[task.id] = TaskState(task.current_state)
        self.task_rows[task.id] = task

    @classmethod
    def build(
        cls,
        settings: Settings,
        db: Database,
        llm: LLMClient,
        *,
        secret_blocks: BlockResolver | None = None,
    ) -> Runtime:
        metered = llm if isinstance(llm, MeteredLLMClient) else MeteredLLMClient(llm, db)
        return cls(settings=settings, db=db, llm=metered, secret_blocks=secret_blocks)

    def local_duckdb_path(self) -> Path:
        return self.settings.home / "local.duckdb"

    async def platform_for(self, task: Task) -> Platform:
        """The platform a task deploys to; the caller closes it.

        The task's connection (databricks, fabric or local), else the default
        connection for a databricks/fabric task, else the embedded DuckDB for a
        local task. The connection's secret is decrypted (or resolved) in memory
        only, for the client being built.
        """
        row = await connections.for_task(self.db, self.settings, task)
        if row is None:
            from aadap.platforms.local import LocalPlatform  # DuckDB, loaded on first use

            return LocalPlatform(
                self.local_duckdb_path(), self.settings.home / "runs", self.settings.platforms
            )
        return await connections.open_platform(self.settings, row, blocks=self.secret_blocks)
