"""API-triggered lifecycles through ``aadap serve``: pickup latency and time to completion.

Starts a real Prefect server on PostgreSQL and ``aadap serve`` against it (AADAP's own
database on PostgreSQL too), then creates N ``task-lifecycle`` runs one after another
through the Prefect API and reads each run's server-side start and end times.

    python benchmarks/api_trigger.py [--runs 20] [--poll 0.5]

``--poll`` is ``AADAP_SCHEDULES_RUNNER_POLL_SECONDS`` (the runner's ``query_seconds``):
the expected pickup latency is about half of it plus the start of the run's process.
``benchmarks/startup.py`` measures the same against a bare Prefect flow served alike.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import BIN, postgres_database, prefect_server

from tests.fakes.processes import stop

REQUEST = "what tables are there?"


async def measure(api: str, runs: int) -> list[tuple[float, float]]:
    os.environ["PREFECT_API_URL"] = api
    from prefect.client.orchestration import get_client
    from prefect.deployments import arun_deployment

    results = []
    async with get_client() as client:
        for _ in range(runs):
            t0 = dt.datetime.now(dt.UTC)
            run = await arun_deployment(
                "task-lifecycle/task-lifecycle",
                parameters={"request": {"text": REQUEST}},
                timeout=0,
            )
            while True:
                current = await client.read_flow_run(run.id)
                if current.state is not None and current.state.is_final():
                    break
                await asyncio.sleep(0.1)
            if (
                not current.state.is_completed()
                or current.start_time is None
                or current.end_time is None
            ):
                raise RuntimeError(f"run {run.id} ended {current.state}")
            results.append(
                ((current.start_time - t0).total_seconds(), (current.end_time - t0).total_seconds())
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--poll", type=float, default=0.5, help="AADAP_SCHEDULES_RUNNER_POLL_SECONDS"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aadap-bench-") as tmp:
        home = Path(tmp)
        (home / "prefect").mkdir()
        with prefect_server(home / "prefect") as api, postgres_database("aadap_bench") as app_db:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AADAP_", "PREFECT_"))}
            env.update(
                PREFECT_API_URL=api, PREFECT_HOME=str(home / "serve-prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                AADAP_HOME=str(home / "aadap"), AADAP_DATABASE_URL=app_db,
                AADAP_SCHEDULES_RUNNER_POLL_SECONDS=str(args.poll),
            )  # fmt: skip
            with (home / "serve.log").open("wb") as log:
                served = subprocess.Popen(
                    [str(BIN / "aadap"), "serve"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    deadline = time.monotonic() + 120
                    import httpx

                    while "task-lifecycle" not in {  # the deployment this script triggers
                        d["name"]
                        for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=5).json()
                    }:
                        if time.monotonic() > deadline or served.poll() is not None:
                            raise RuntimeError("aadap serve did not register its deployments")
                        time.sleep(0.5)
                    asyncio.run(measure(api, 1))  # warm-up: first imports in the runner
                    results = asyncio.run(measure(api, args.runs))
                finally:
                    stop(served)
    pickup = [p for p, _ in results]
    total = [t for _, t in results]
    print(
        f"runs: {args.runs} sequential task-lifecycle runs through `aadap serve` (request: {REQUEST!r})"
    )
    print(
        f"setting: AADAP_SCHEDULES_RUNNER_POLL_SECONDS={args.poll:g} (the runner's query_seconds)"
    )
    print("Prefect server and AADAP database: PostgreSQL")
    print(
        f"API call -> flow run start (pickup): median {statistics.median(pickup):.2f} s, max {max(pickup):.2f} s"
    )
    print(
        f"API call -> completion:              median {statistics.median(total):.2f} s, max {max(total):.2f} s"
    )
    print(
        f"run time (start -> end):             median {statistics.median(t - p for p, t in results):.2f} s"
    )
    print(f"pickup / poll interval ratio:        {statistics.median(pickup) / args.poll:.2f}")


if __name__ == "__main__":
    main()
