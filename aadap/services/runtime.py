"""Everything one lifecycle needs, built once per run from settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from aadap.core.config import Settings
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import InvalidConfigurationError
from aadap.db.models import Task
from aadap.db.session import Database
from aadap.llm.types import LLMClient
from aadap.platforms.base import Platform
from aadap.platforms.local import LocalPlatform
from aadap.services.metering import MeteredLLMClient


@dataclass
class Runtime:
    settings: Settings
    db: Database
    llm: LLMClient  # metered: budgets are enforced and every call is recorded

    @classmethod
    def build(cls, settings: Settings, db: Database, llm: LLMClient) -> Runtime:
        metered = llm if isinstance(llm, MeteredLLMClient) else MeteredLLMClient(llm, db)
        return cls(settings=settings, db=db, llm=metered)

    def local_duckdb_path(self) -> Path:
        return self.settings.home / "local.duckdb"

    async def platform_for(self, task: Task) -> Platform:
        """The platform a task deploys to (its connection, else the embedded DuckDB)."""
        kind = PlatformKind(task.platform)
        if kind is PlatformKind.LOCAL and task.connection_id is None:
            return LocalPlatform(
                self.local_duckdb_path(), self.settings.home / "runs", self.settings.platforms
            )
        raise InvalidConfigurationError(
            f"platform={kind.value!r} needs a platform connection, which this build cannot open yet; "
            "use platform=local",
            task_id=str(task.id),
            details={"field": "platform", "task_id": str(uuid.UUID(str(task.id)))},
        )
