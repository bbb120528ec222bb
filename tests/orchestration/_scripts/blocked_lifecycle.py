"""Run one real lifecycle whose developer LLM call never returns, so a test can ``kill -9`` it.

Usage: ``python blocked_lifecycle.py JOURNAL WORKING_DIR REQUEST [AGENT]``

The database and Prefect come from the environment (``AADAP_DATABASE_URL``,
``AADAP_HOME``, ``PREFECT_API_URL``). The LLM is the offline provider, wrapped:
every call that returns appends ``returned <agent>`` to JOURNAL. The developer's
first answer is not JSON, so the agent re-prompts within the same step; that second
call appends ``blocked developer`` and waits forever. When that line is written the
parser and planner steps have finished (their cost rows settled by their hooks) and
the developer step is running with one returned call (its cost row still pending).

With AGENT (another agent than ``developer``), that agent's first call blocks at once,
so the step before it has just committed its finish and nothing has been written since.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path

from aadap.agents.offline import OfflineLLMClient
from aadap.llm.messages import Completion, LLMRequest
from aadap.orchestration.bound_runtime import use_llm

BLOCK_ON = "developer"


class BlockingClient:
    def __init__(self, journal: Path, block_on: str = BLOCK_ON) -> None:
        self.block_on = block_on
        self.inner = OfflineLLMClient()
        self.provider = self.inner.provider
        self.journal = journal
        self.developer_calls = 0

    def model_for(self, agent: str) -> str:
        return self.inner.model_for(agent)

    def _append(self, line: str) -> None:
        with self.journal.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    async def complete(self, request: LLMRequest) -> Completion:
        if request.agent == self.block_on:
            self.developer_calls += 1
            if self.developer_calls > 1 or self.block_on != BLOCK_ON:
                self._append(f"blocked {request.agent}")
                await asyncio.Event().wait()  # never set: the test kills this process here
        completion = await self.inner.complete(request)
        if request.agent == BLOCK_ON:
            completion = dataclasses.replace(completion, text="not JSON, please re-prompt")
        self._append(f"returned {request.agent}")
        return completion


async def main(journal: Path, working_dir: str, text: str, block_on: str = BLOCK_ON) -> None:
    from flows.task_lifecycle import task_lifecycle

    with use_llm(BlockingClient(journal, block_on)):
        await task_lifecycle(request={"text": text, "working_dir": working_dir})


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], *sys.argv[4:5]))
