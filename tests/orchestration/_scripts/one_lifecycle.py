"""Run one real lifecycle to its end and print the task's final state.

Usage: ``python one_lifecycle.py WORKING_DIR REQUEST``

The home, database and Prefect API come from the environment (``AADAP_HOME``,
``PREFECT_API_URL``); the LLM is the offline provider (the default). Exit status 0
when the flow completed, 1 when it failed (its message on stderr).
"""

from __future__ import annotations

import asyncio
import sys


async def main(working_dir: str, text: str) -> int:
    from flows.task_lifecycle import task_lifecycle

    state = await task_lifecycle(
        request={"text": text, "working_dir": working_dir}, return_state=True
    )
    if not state.is_completed():
        print(state.message, file=sys.stderr)
        return 1
    summary = await state.result()
    print(summary.state)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
