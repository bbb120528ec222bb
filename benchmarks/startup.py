"""Start-up waits a user feels, each against a baseline measured in the same run.

    python benchmarks/startup.py [--imports 7] [--runs 3] [--triggers 10] [--approvals 3]

1. ``import flows.task_lifecycle`` (every served run's process pays it) against
   ``import prefect`` and against importing a bare Prefect flow with one pydantic parameter;
   target <= 1.3 s.
2. ``aadap run`` of the README example on the embedded defaults: the first run (it starts
   the local Prefect server), then the second and later runs (they reuse it), against
   ``AADAP_PREFECT_SERVER=ephemeral`` (Prefect's per-command API, the behaviour before),
   and against its floor: a new process running a bare flow of eight task runs against the
   same background server; target: second run <= 3 s.
3. API trigger -> Running with ``aadap serve`` against ``prefect server start`` (both on
   PostgreSQL), against a bare Prefect flow served the same way (same poll interval);
   target: median <= 2.0 s.
4. an approval decision (``aadap approvals approve``, a new process, as a reviewer types it)
   -> the suspended run Completed, against an API trigger -> Completed of a run that needs
   no approval (item 3); target <= 4 s.

Prints the load (``os.getloadavg``) before and after: figures from a busy machine are
upper bounds. Needs PostgreSQL (``AADAP_TEST_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _servers import BIN, postgres_database, prefect_server

from aadap.cli._server import running
from tests.fakes.processes import stop

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
AADAP = str(BIN / "aadap")
EXAMPLE = "monthly-revenue-from-file"  # the README's first command
EXAMPLE_TABLE = "monthly_revenue"
TRIGGER_REQUEST = "what tables are there?"
APPROVAL_REQUEST = "run: DELETE FROM stale WHERE id >= 5"  # destructive: waits for a human

BARE_FLOW = """
from prefect import flow
from pydantic import BaseModel


class Request(BaseModel):
    text: str


@flow(name="bare", validate_parameters=True)
async def bare(request: Request) -> str:
    return request.text


if __name__ == "__main__":
    import sys
    from prefect import serve
    serve(bare.to_deployment(name="bare"), query_seconds=float(sys.argv[1]))
"""


# The floor under a second `aadap run`: a new process running a bare flow of eight task runs
# (the lifecycle's step count) against the same background server, no AADAP in it.
BARE_RUN = """
import asyncio
from prefect import flow, task
from pydantic import BaseModel


class Request(BaseModel):
    text: str


@task
async def step(text: str) -> str:
    return text


@flow(name="bare-run", validate_parameters=True)
async def bare_run(request: Request) -> str:
    text = request.text
    for _ in range(8):
        text = await step(text)
    return text


if __name__ == "__main__":
    asyncio.run(bare_run(request=Request(text="hello")))
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AADAP_", "PREFECT_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's interpreter caches bytecode
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.update(extra)
    return env


def spread(values: Sequence[float]) -> str:
    return (
        f"median {statistics.median(values):6.2f} s  (min {min(values):.2f}, "
        f"max {max(values):.2f}, n={len(values)})"
    )


def row(label: str, values: Sequence[float], base: Sequence[float] | None = None) -> None:
    ratio = f"  ratio {statistics.median(values) / statistics.median(base):.2f}" if base else ""
    print(f"  {label:<52} {spread(values)}{ratio}")


def verdict(what: str, value: float, limit: float) -> None:
    print(
        f"  target {what} <= {limit:.1f} s: {'met' if value <= limit else 'NOT met'} ({value:.2f} s)"
    )


def wall(cmd: Sequence[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-1500:]}")
    return took


# -- 1. imports ----------------------------------------------------------------------------


def imports(n: int, tmp: Path) -> None:
    (tmp / "bare_flow.py").write_text(BARE_FLOW)
    env = clean_env(PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp)]))
    arms = {
        "import prefect": "import prefect",
        "import bare_flow (a bare Prefect flow)": "import bare_flow",
        "import flows.task_lifecycle": "import flows.task_lifecycle",
    }
    for code in arms.values():  # warm-up: bytecode written, files in the page cache
        wall([PY, "-c", code], env)
    times: dict[str, list[float]] = {label: [] for label in arms}
    for _ in range(n):  # interleaved, so a burst of load hits every arm
        for label, code in arms.items():
            times[label].append(wall([PY, "-c", code], env))
    print("\n1. import time (a new process; wall, bytecode cached)")
    for label, values in times.items():
        row(label, values, times["import prefect"])
    target = statistics.median(times["import flows.task_lifecycle"])
    bare = statistics.median(times["import bare_flow (a bare Prefect flow)"])
    share = "AADAP's own share (lifecycle - bare flow)"
    print(f"  {share:<52} {target - bare:6.2f} s")
    verdict("import", target, 1.3)


# -- 2. aadap run --------------------------------------------------------------------------


def drop_example_table(aadap_home: Path) -> None:
    import duckdb

    path = aadap_home / "local.duckdb"
    if path.exists():
        con = duckdb.connect(str(path))
        try:
            con.execute(f"DROP TABLE IF EXISTS {EXAMPLE_TABLE}")
        finally:
            con.close()


def aadap_runs(n: int, tmp: Path) -> None:
    results: dict[str, list[float]] = {}
    bare_script = tmp / "bare_run.py"
    bare_script.write_text(BARE_RUN)
    bare: list[float] = []
    for mode in ("ephemeral", "background"):
        home = tmp / f"run-{mode}"
        env = clean_env(AADAP_HOME=str(home), AADAP_PREFECT_SERVER=mode)
        later = []
        try:
            first = wall([AADAP, "run", "--example", EXAMPLE], env)
            bare_env = None
            if mode == "background":
                server = running(home / "prefect")  # where `aadap run` started it
                assert server is not None, "the first `aadap run` left no server running"
                bare_env = clean_env(PREFECT_API_URL=server.url)
                wall([PY, str(bare_script)], bare_env)  # warm-up: its bytecode
            for _ in range(n):  # interleaved with the floor, so load hits both alike
                drop_example_table(home)
                later.append(wall([AADAP, "run", "--example", EXAMPLE], env))
                if bare_env is not None:
                    bare.append(wall([PY, str(bare_script)], bare_env))
        finally:
            if mode == "background":
                subprocess.run([AADAP, "server", "stop"], env=env, capture_output=True, check=False)
        results[f"{mode}: first run"] = [first]
        results[f"{mode}: second and later runs"] = later
    results["floor: bare flow, 8 task runs, same server"] = bare
    print(f"\n2. `aadap run --example {EXAMPLE}` on the embedded defaults (wall)")
    for label, values in results.items():
        row(label, values, results["ephemeral: second and later runs"])
    second = statistics.median(results["background: second and later runs"])
    share = "AADAP's own share (second run - floor)"
    print(f"  {share:<52} {second - statistics.median(bare):6.2f} s")
    verdict("second run", second, 3.0)


# -- 3 and 4. served runs ------------------------------------------------------------------


@contextmanager
def process(cmd: Sequence[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )
        try:
            yield
        finally:
            stop(proc)


def wait_for_deployments(api: str, names: set[str], limit: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = {d["name"] for d in httpx.post(f"{api}/deployments/filter", json={}).json()}
        if names <= found:
            return
        time.sleep(0.5)
    raise RuntimeError(f"deployments {names} were not registered within {limit} s")


async def until(run_id: Any, done: Callable[[Any], bool], limit: float = 180) -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            current = await client.read_flow_run(run_id)
            if current.state is not None and done(current):
                return current
            await asyncio.sleep(0.05)
    raise RuntimeError(f"flow run {run_id} did not get there within {limit} s")


async def trigger(deployment: str, text: str) -> tuple[float, float]:
    """API call -> Running and -> Completed, from the server's own timestamps."""
    from prefect.deployments import arun_deployment

    t0 = dt.datetime.now(dt.UTC)
    run = await arun_deployment(deployment, parameters={"request": {"text": text}}, timeout=0)
    final = await until(run.id, lambda r: r.state.is_final())
    if not final.state.is_completed():
        raise RuntimeError(f"{deployment} run {run.id} ended {final.state}")
    return (final.start_time - t0).total_seconds(), (final.end_time - t0).total_seconds()


async def cli(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        AADAP, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(
            f"aadap {' '.join(args)} exited {proc.returncode}: {err.decode()[-1500:]}"
        )
    return out.decode()


async def approval_round(env: dict[str, str], aadap_home: Path) -> list[float]:
    """A run that waits for approval, suspended; then `aadap approvals approve` -> Completed."""
    import duckdb
    from prefect.deployments import arun_deployment

    con = duckdb.connect(str(aadap_home / "local.duckdb"))
    try:
        con.execute("CREATE OR REPLACE TABLE stale AS SELECT range AS id FROM range(20)")
    finally:
        con.close()
    run = await arun_deployment(
        "task-lifecycle/task-lifecycle",
        parameters={"request": {"text": APPROVAL_REQUEST}},
        timeout=0,
    )
    await until(run.id, lambda r: r.state.name == "Suspended")
    [pending] = json.loads(await cli(env, "approvals", "list", "--format", "json"))
    decided = dt.datetime.now(dt.UTC)
    await cli(env, "approvals", "approve", str(pending["id"]), "--comment", "bench")
    final = await until(run.id, lambda r: r.state.is_final())
    if not final.state.is_completed():
        raise RuntimeError(f"approved run {run.id} ended {final.state}")
    return await where_the_time_goes(run.id, decided, final.end_time)


#: the segments of a decision's wait, from the flow run's state history
SEGMENTS = (
    "approve command -> resumed (Scheduled Resuming)",
    "resumed -> Pending: the runner's poll",
    "Pending -> Running: process start + imports",
    "Running -> Completed: steps restored, deploy",
)


async def where_the_time_goes(run_id: Any, decided: dt.datetime, end: dt.datetime) -> list[float]:
    """The decision's wait split at the states the resumed run went through, and its total."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        states = await client.read_flow_run_states(run_id)
    after = [st for st in states if st.timestamp >= decided]
    marks = [decided]
    for name in ("Resuming", "Pending", "Running"):
        found = next((st.timestamp for st in after if st.name == name), None)
        marks.append(found if found is not None else marks[-1])
    marks.append(end)
    segments = [(b - a).total_seconds() for a, b in itertools.pairwise(marks)]
    return [*segments, (end - decided).total_seconds()]


async def served_rounds(
    n_triggers: int, n_approvals: int, env: dict[str, str], aadap_home: Path
) -> tuple[list[tuple[float, float]], list[tuple[float, float]], list[list[float]]]:
    lifecycle, bare_flow = "task-lifecycle/task-lifecycle", "bare/bare"
    for name in (lifecycle, bare_flow):  # warm-up
        await trigger(name, TRIGGER_REQUEST)
    ours, bare = [], []
    for _ in range(n_triggers):
        ours.append(await trigger(lifecycle, TRIGGER_REQUEST))
        bare.append(await trigger(bare_flow, TRIGGER_REQUEST))
    approvals = [await approval_round(env, aadap_home) for _ in range(n_approvals)]
    return ours, bare, approvals


def served(n_triggers: int, n_approvals: int, tmp: Path) -> None:
    from aadap.core.config import ScheduleSettings

    (tmp / "bare_flow.py").write_text(BARE_FLOW)
    poll = ScheduleSettings().runner_poll_seconds
    (tmp / "prefect").mkdir()
    with prefect_server(tmp / "prefect") as api, postgres_database("aadap_bench") as app_db:
        os.environ["PREFECT_API_URL"] = api
        aadap_home = tmp / "served"
        env = clean_env(
            PREFECT_API_URL=api, PREFECT_HOME=str(tmp / "serve-prefect"),
            AADAP_HOME=str(aadap_home), AADAP_DATABASE_URL=app_db,
        )  # fmt: skip
        bare_env = clean_env(
            PREFECT_API_URL=api, PREFECT_HOME=str(tmp / "bare-prefect"),
            PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp)]),
        )  # fmt: skip
        with (
            process([AADAP, "serve"], env, tmp / "serve.log"),
            process([PY, str(tmp / "bare_flow.py"), str(poll)], bare_env, tmp / "bare.log"),
        ):
            wait_for_deployments(api, {"task-lifecycle", "bare"})
            ours, bare, approvals = asyncio.run(
                served_rounds(n_triggers, n_approvals, env, aadap_home)
            )
    print(f"\n3. API trigger -> Running through a served deployment (poll every {poll:g} s)")
    row("bare Prefect flow: trigger -> Running", [p for p, _ in bare])
    row("task-lifecycle:    trigger -> Running", [p for p, _ in ours], [p for p, _ in bare])
    row("bare Prefect flow: trigger -> Completed", [t for _, t in bare])
    row("task-lifecycle:    trigger -> Completed", [t for _, t in ours], [t for _, t in bare])
    verdict("Running median", statistics.median(p for p, _ in ours), 2.0)
    print("\n4. approval decision -> Completed (`aadap approvals approve` as typed; suspended run)")
    base = [t for _, t in ours]
    row("baseline: trigger -> Completed, no approval", base)
    totals = [a[-1] for a in approvals]
    row("decision -> Completed", totals, base)
    for i, label in enumerate(SEGMENTS):
        row(f"  {label}", [a[i] for a in approvals])
    verdict("decision -> Completed", statistics.median(totals), 4.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--imports", type=int, default=7, help="processes per import arm")
    parser.add_argument("--runs", type=int, default=3, help="`aadap run` after the first, per mode")
    parser.add_argument("--triggers", type=int, default=10, help="API-triggered runs per arm")
    parser.add_argument("--approvals", type=int, default=3, help="approval rounds")
    parser.add_argument(
        "--only", choices=("imports", "run", "served"), action="append", help="measure only these"
    )
    args = parser.parse_args()
    only = set(args.only or ("imports", "run", "served"))
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aadap-startup-") as tmp:
        if "imports" in only:
            imports(args.imports, Path(tmp))
        if "run" in only:
            aadap_runs(args.runs, Path(tmp))
        if "served" in only:
            served(args.triggers, args.approvals, Path(tmp))
    after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload after: {after}; took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
