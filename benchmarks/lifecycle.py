"""Benchmark of the task lifecycle: AADAP's full flow against the same Prefect flow without
AADAP's persistence, measured in one run.

    python benchmarks/lifecycle.py [--runs N] [--prefect ephemeral|postgres] [--writes N]

(a) **full**: the real ``task-lifecycle`` flow (``flows/task_lifecycle.py``) on the
    embedded defaults: offline LLM, local DuckDB under a temporary ``AADAP_HOME``, and
    the SQLite application database there (PostgreSQL with ``--prefect postgres``).
    Every state transition, artifact, approval, execution, cost row, hook log row and
    mirrored Prefect log is written, as ``aadap run`` does.
(b) **baseline**: the same Prefect flow with AADAP's persistence and hooks turned off: an
    async flow with the same eight async Prefect tasks, named the same, with the same
    task options (retries, retry predicate, tags, no caching); they call the same agents
    with the same offline LLM, build the same agent context (schema hints read from
    DuckDB once per run, as the full flow does), run the same safety analysis and policy
    decision and the same SQL on DuckDB, tag the flow run while the steps run, and
    publish the same two Prefect artifacts (``aadap.orchestration.run_artifacts.publish``: the
    report and the cost table, built from what the run holds in memory). Nothing is written to the application database: no
    state transition, cost row, artifact version, approval or execution record, no
    hook, no log mirror. The ratio full/baseline (medians) is the cost of AADAP's trail;
    the target is <= 1.30 on ``--prefect postgres`` (issue 19's guard, set when the
    speed-up layer of per-dialect statements went; <= 1.25 before). The report also gives the ratio against the baseline without
    the Prefect artifacts and the tag (``baseline, no artifacts``), the stricter
    yardstick the earlier versions of this script used, measured in the same run.
(c) the median cost of writing one ``task_logs`` row (``aadap.services.logs.write``) and
    one ``cost_records`` row (``aadap.services.costs.record_llm_call``, which also updates
    the task's totals), each in its own transaction, on SQLite and on PostgreSQL.

Both flows run the request below (a two-operation pipeline, so all eight steps do real
work: five LLM calls, a rule-based route, the safety analysis, one DuckDB statement), each
run writing its own table, dropped after the run outside the timing. One warm-up run of
each comes first (Prefect's ephemeral server and imports start there); then full and
baseline runs alternate, the order flipping every pair, to spread drift and noise evenly.

``--prefect ephemeral`` (default) uses Prefect's ephemeral API under a temporary
``PREFECT_HOME``. ``--prefect postgres`` starts ``prefect server start`` on a free port
with a throwaway PostgreSQL database (``PREFECT_API_DATABASE_CONNECTION_URL``), waits for
``/api/health``, points ``PREFECT_API_URL`` at it, uses a throwaway PostgreSQL database for
AADAP too, and stops the server at the end (``benchmarks/_servers.py``). PostgreSQL comes
from ``AADAP_TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``,
used only to create and drop the throwaway databases).
"""

# No ``from __future__ import annotations``: the baseline's tasks are defined inside a
# function (Prefect is imported only once the environment is set) and Prefect must see
# their real annotation objects, not strings naming locals.
import argparse
import asyncio
import contextlib
import logging
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from _servers import PG_ADMIN, postgres_database, prefect_server  # noqa: E402

from tests.fakes.processes import drain_prefect_workers  # noqa: E402

EXAMPLES = ROOT / "examples"
TARGET_RATIO = 1.30  # issue 19's guard (see the module docstring)


def request_text(table: str) -> str:
    return (
        f"Load {EXAMPLES / 'data' / 'orders.csv'}, keep only rows where status = 'shipped', "
        f"then write monthly revenue by region into {table}"
    )


# --- PostgreSQL ---------------------------------------------------------------------------


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


# --- figures -----------------------------------------------------------------------------


ARMS = ("full", "baseline", "bare")


@dataclass
class Figures:
    full: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)  # the baseline without the two artifacts
    retries: dict[str, list[int]] = field(default_factory=lambda: {a: [] for a in ARMS})
    backoff: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in ARMS})
    writes: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p90(values: list[float]) -> float:
    if len(values) < 2:
        return _median(values)
    return statistics.quantiles(values, n=10)[-1]


_BACKOFF = re.compile(r"Another attempt will be made in ([0-9.]+)s")


class RetryCounter(logging.Handler):
    """Counts the Prefect client's retries of API calls (a 503 "database is locked" from a
    SQLite-backed Prefect server costs a 2-s back-off), which dominate the ephemeral mode."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.seconds = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        found = _BACKOFF.search(record.getMessage())
        if found:
            self.count += 1
            self.seconds += float(found[1])

    def install(self) -> "RetryCounter":
        client_logger = logging.getLogger("prefect.client")
        client_logger.addHandler(self)
        client_logger.setLevel(logging.DEBUG)  # the console handler stays at WARNING
        return self


# --- Prefect's tag-concurrency cache -------------------------------------------------------


async def tag_cache_primer(args: argparse.Namespace, notes: list[str]) -> Any:
    """What keeps Prefect's tag-concurrency check from landing on one arm at random.

    Before running a task, Prefect asks the API for the concurrency limits of the task's
    tag set (``POST /v2/concurrency_limits/increment-with-lease``, about 40 ms here) and
    caches "no limit" per tag set for 5 s (``prefect.concurrency.services``). Both flows
    tag their steps alike (``agent:<step>``), so they share those entries, and whichever
    lifecycle first starts a step after an entry expired pays the call: measured over
    12 rounds, 0.2 such calls per lifecycle in one arm and 2.2 in another, which moves
    the medians by more than AADAP's own cost. With ``--tag-cache primed`` (the default)
    the entries are refreshed before every measured lifecycle, outside the timing, once
    the API confirmed that no limit exists for these tags, so no arm pays: an equal cost
    taken out of both arms, which makes the ratio stricter, not looser.
    ``--tag-cache natural`` leaves Prefect's cache alone. Returns the primer, or None.
    """
    if args.tag_cache != "primed":
        return None
    from prefect.client.orchestration import get_client
    from prefect.concurrency import services

    from aadap.orchestration import steps

    names = [f"tag:agent:{step.name}" for step in steps.ALL_STEPS]
    async with get_client() as client:
        limits = await client.read_global_concurrency_limits(limit=200)
    if any(limit.name in names for limit in limits):
        notes.append("a concurrency limit exists for a step tag: Prefect's cache left alone")
        return None

    def prime() -> None:
        with services._cache_lock:
            for name in names:
                services._no_limits_cache[frozenset([name])] = True

    return prime


# --- the measurements (prefect and aadap are imported only once the environment is set) ---


async def measure(args: argparse.Namespace, home: Path, app_db_url: str | None) -> Figures:
    from aadap.core.config import load_settings
    from aadap.db import migrate
    from aadap.db.session import Database
    from flows.task_lifecycle import task_lifecycle

    figures = Figures()
    settings = load_settings()
    db = Database(settings)
    try:
        await migrate.ensure_schema(db.engine)
    finally:
        await db.dispose()
    baseline = build_baseline(settings)
    retries = RetryCounter().install()

    async def full(table: str) -> float:
        started = time.perf_counter()
        state = await task_lifecycle(
            request={"text": request_text(table), "working_dir": str(EXAMPLES)},
            return_state=True,
        )
        elapsed = time.perf_counter() - started
        summary = await state.result() if state.is_completed() else None
        if summary is None or summary.state != "COMPLETED":
            raise RuntimeError(f"the full lifecycle did not complete: {state.message}")
        return elapsed

    async def base(table: str, publish: bool = True) -> float:
        started = time.perf_counter()
        state = await baseline(
            request={"text": request_text(table), "working_dir": str(EXAMPLES)},
            publish=publish,
            return_state=True,
        )
        elapsed = time.perf_counter() - started
        if not state.is_completed():
            raise RuntimeError(f"the baseline flow did not complete: {state.message}")
        return elapsed

    async def bare(table: str) -> float:
        return await base(table, publish=False)

    duckdb_path = settings.home / "local.duckdb"
    print("warming up (Prefect start-up, imports, first connections) …", flush=True)
    await full("bench_warm_full")
    await base("bench_warm_base")
    await bare("bench_warm_bare")
    drop_tables(duckdb_path)
    prime = await tag_cache_primer(args, figures.notes)
    arms = {"full": full, "baseline": base, "bare": bare}
    for i in range(args.runs):
        order = list(ARMS[i % 3 :] + ARMS[: i % 3])  # each arm first, second and third in turn
        if i % 2:
            order.reverse()
        for label in order:
            if prime is not None:
                prime()
            before, slept = retries.count, retries.seconds
            seconds = await arms[label](f"bench_{label}_{i}")
            getattr(figures, label).append(seconds)
            figures.retries[label].append(retries.count - before)
            figures.backoff[label].append(retries.seconds - slept)
            drop_tables(duckdb_path)
        print(
            f"  round {i + 1}/{args.runs}: full {figures.full[-1]:.3f}s  "
            f"baseline {figures.baseline[-1]:.3f}s  no artifacts {figures.bare[-1]:.3f}s",
            flush=True,
        )

    print("timing single writes …", flush=True)
    sqlite_url = f"sqlite+aiosqlite:///{home / 'writes.db'}"
    figures.writes["sqlite"] = await write_costs(sqlite_url, home, args.writes)
    if app_db_url is not None:
        figures.writes["postgres"] = await write_costs(app_db_url, home, args.writes)
    elif postgres_available():
        with postgres_database("aadap_bench_writes") as url:
            figures.writes["postgres"] = await write_costs(url, home, args.writes)
    else:
        figures.notes.append(
            f"PostgreSQL at {PG_ADMIN} is unreachable: no PostgreSQL write figures"
        )
    return figures


def drop_tables(duckdb_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(duckdb_path))
    try:
        names = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'bench_%'"
        ).fetchall()
        for (name,) in names:
            con.execute(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        con.close()


def build_baseline(settings: Any) -> Any:
    """The lifecycle's flow shape without AADAP's persistence: same tasks, no trail."""
    from prefect import flow, task
    from prefect.context import FlowRunContext

    from aadap import agents
    from aadap.agents import AgentContext, GeneratedCode, Plan, Requirement, Review, Route
    from aadap.agents.offline import OfflineLLMClient
    from aadap.core.enums import Environment, Language, PlatformKind
    from aadap.core.requests import TaskRequest
    from aadap.llm.messages import Completion, LLMRequest
    from aadap.orchestration import run_artifacts
    from aadap.orchestration.lifecycle import _tag_flow_run as tag_flow_run
    from aadap.orchestration.retry import step_options
    from aadap.platforms.local import LocalPlatform
    from aadap.safety import analyze, decide
    from aadap.services.summary import LifecycleSummary

    offline = OfflineLLMClient()
    usage: dict[str, dict[str, Any]] = {}  # per run: cost by agent, for the cost table

    class CountingLLM:
        """The offline client, tallying each call's usage by agent in memory (what the
        full flow reads back from ``cost_records`` for its table artifact)."""

        provider = offline.provider

        def model_for(self, agent: str) -> str:
            return offline.model_for(agent)

        async def complete(self, request: LLMRequest) -> Completion:
            completion = await offline.complete(request)
            entry = usage.setdefault(
                request.agent,
                {"agent": request.agent, "kind": "llm", "calls": 0, "tokens_in": 0, "tokens_out": 0,
                 "cost_usd": Decimal(0)},
            )  # fmt: skip
            entry["calls"] += 1
            entry["tokens_in"] += completion.usage.tokens_in
            entry["tokens_out"] += completion.usage.tokens_out
            entry["cost_usd"] += completion.usage.cost_usd or Decimal(0)
            return completion

    llm = CountingLLM()
    duckdb_path = settings.home / "local.duckdb"

    def platform_() -> LocalPlatform:
        return LocalPlatform(duckdb_path, settings.home / "runs", settings.platforms)

    facts: dict[str, AgentContext] = {}  # per run, as the full flow's Runtime.agent_facts

    async def context(request: TaskRequest) -> AgentContext:
        if request.text not in facts:
            facts[request.text] = AgentContext(
                request_text=request.text,
                environment=request.environment,
                platform=request.platform,
                working_dir=Path(request.working_dir or Path.cwd()),
                schema_hints=await platform_().schema(),
            )
        return facts[request.text]

    @task(name="parser")
    async def parser(request: TaskRequest) -> Requirement:
        return await agents.parse_request(llm, await context(request))

    @task(name="planner")
    async def planner(request: TaskRequest, requirement: Requirement) -> Plan:
        return await agents.plan_work(llm, await context(request), requirement)

    @task(name="router")
    async def router(request: TaskRequest, requirement: Requirement, plan: Plan) -> Route:
        return await agents.route_work(llm, await context(request), requirement, plan)

    @task(name="developer")
    async def developer(
        request: TaskRequest, requirement: Requirement, plan: Plan, route: Route
    ) -> GeneratedCode:
        return await agents.develop_code(llm, await context(request), requirement, plan, route)

    @task(name="reviewer")
    async def reviewer(
        request: TaskRequest, requirement: Requirement, code: GeneratedCode
    ) -> Review:
        review = await agents.review_code(llm, await context(request), requirement, code)
        if not review.passed:
            raise RuntimeError(f"the review failed: {review.summary}")
        return review

    @task(name="optimiser")
    async def optimiser(request: TaskRequest, plan: Plan, code: GeneratedCode) -> GeneratedCode:
        if not plan.optimise:
            return code
        result = await agents.optimise_code(llm, await context(request), plan, code)
        return code.model_copy(update={"code": result.code}) if result.changed else code

    @task(name="approval")
    async def approval(request: TaskRequest, code: GeneratedCode) -> str:
        if not agents.check_syntax(code.code, code.language, PlatformKind.LOCAL).ok:
            raise RuntimeError("the optimised code does not parse")
        analysis = analyze(
            code.code,
            language=code.language,
            platform=PlatformKind.LOCAL,
            existing_tables=await platform_().list_tables(),
            production_host_patterns=settings.safety.production_host_patterns,
        )
        decision = decide(analysis, Environment.SANDBOX, settings.safety)
        if decision.decision != "auto":
            raise RuntimeError(f"policy wants {decision.decision}: {decision.reason}")
        return decision.reason

    @task(name="deployer")
    async def deployer(code: str, language: Language) -> dict[str, Any]:
        local = platform_()
        try:
            handle = await local.submit(code, language=language, name="bench")
            result = await local.wait(handle)
        finally:
            await local.aclose()
        if not result.succeeded:
            raise RuntimeError(f"the DuckDB run failed: {result.error}")
        return {"rows_affected": result.rows_affected, "output": result.output}

    base_options = step_options(settings)

    def opts(name: str, **extra: Any) -> dict[str, Any]:
        return {**base_options, "tags": [f"agent:{name}"], **extra}

    @flow(name="task-lifecycle-baseline", validate_parameters=True)
    async def task_lifecycle_baseline(request: TaskRequest, publish: bool = True) -> int | None:
        facts.clear()
        usage.clear()
        tagging = None
        if publish:  # the flow-run tag, set while the steps run, as the full flow does
            run_ctx = FlowRunContext.get()
            flow_run = None if run_ctx is None else run_ctx.flow_run
            task = SimpleNamespace(
                id=uuid.uuid4(), title=request.effective_title,
                environment=request.environment.value, platform=request.platform.value,
                created_by=request.created_by,
            )  # fmt: skip
            tagging = asyncio.ensure_future(tag_flow_run(flow_run, task))
        requirement = await parser.with_options(**opts("parser"))(request)
        plan = await planner.with_options(**opts("planner"))(request, requirement)
        route = await router.with_options(**opts("router"))(request, requirement, plan)
        code = await developer.with_options(**opts("developer", task_run_name="developer-round-1"))(
            request, requirement, plan, route
        )
        await reviewer.with_options(**opts("reviewer", task_run_name="reviewer-round-1"))(
            request, requirement, code
        )
        code = await optimiser.with_options(**opts("optimiser"))(request, plan, code)
        await approval.with_options(**opts("approval", retries=0))(request, code)
        result = await deployer.with_options(**opts("deployer", retries=0))(
            code.code, code.language
        )
        if publish:  # the same two artifacts as the full flow, from what this run holds
            costs = sorted(usage.values(), key=lambda e: str(e["agent"]))
            await run_artifacts.publish(
                LifecycleSummary(
                    task_id=uuid.uuid4().hex, title=request.effective_title, state="COMPLETED",
                    environment=request.environment.value, platform=request.platform.value,
                    code=code.code, language=code.language.value, result=result,
                    tokens_used=sum(e["tokens_in"] + e["tokens_out"] for e in costs),
                    cost_usd=sum((e["cost_usd"] for e in costs), Decimal(0)),
                    llm_calls=sum(e["calls"] for e in costs), cost_by_agent=costs,
                )
            )  # fmt: skip
        if tagging is not None:
            await tagging
        rows: int | None = result["rows_affected"]
        return rows

    return task_lifecycle_baseline


async def write_costs(url: str, home: Path, count: int) -> dict[str, list[float]]:
    """Milliseconds per single-row write through the services, each in its own transaction."""
    from aadap.core.config import DatabaseSettings, load_settings
    from aadap.core.enums import LogLevel
    from aadap.db import migrate
    from aadap.db.models import Task
    from aadap.db.session import Database
    from aadap.llm.messages import Completion, Usage
    from aadap.services import costs, logs
    from aadap.services.context import RunContext

    settings = load_settings(home=home, database=DatabaseSettings(url=url))
    db = Database(settings)
    try:
        await migrate.ensure_schema(db.engine)
        async with db.transaction() as session:
            task = Task(title="bench", request="bench", correlation_id=uuid.uuid4().hex)
            session.add(task)
        ctx = RunContext(task.id, task.correlation_id, "flow-run", "task-run", "developer", 1)
        completion = Completion(
            "{}", "gpt-4o-mini", "openai", Usage(1200, 300, Decimal("0.000405")), 150
        )

        async def log_row() -> None:
            await logs.write(
                db,
                [
                    logs.entry(
                        level=LogLevel.INFO, event="step.completed", source="bench",
                        message="developer: completed on attempt 1", task_id=task.id,
                        flow_run_id="flow-run", task_run_id="task-run", attempt=1,
                    )
                ],
            )  # fmt: skip

        async def cost_row() -> None:
            await costs.record_llm_call(db, ctx=ctx, agent="developer", completion=completion)

        timings: dict[str, list[float]] = {"task_logs": [], "cost_records": []}
        for _ in range(max(count // 10, 5)):  # warm-up: connections, statement caches
            await log_row()
            await cost_row()
        for _ in range(count):
            for name, write in (("task_logs", log_row), ("cost_records", cost_row)):
                started = time.perf_counter()
                await write()
                timings[name].append((time.perf_counter() - started) * 1000)
        return timings
    finally:
        await db.dispose()


# --- report -------------------------------------------------------------------------------


def _calm(figures: Figures, key: str) -> list[float]:
    """The arm's runs during which the Prefect client retried no API call: the embedded
    server's 2-s `database is locked` back-offs land on either arm at random."""
    return [s for s, n in zip(getattr(figures, key), figures.retries[key], strict=True) if n == 0]


def report(args: argparse.Namespace, figures: Figures, app_db: str) -> None:
    import prefect

    full, base, bare = figures.full, figures.baseline, figures.bare
    ratio = _median(full) / _median(base)
    per_minute = 60 * len(full) / sum(full)
    print()
    print(
        f"AADAP lifecycle benchmark: Prefect {args.prefect} (prefect {prefect.__version__}), "
        f"application DB {app_db}, {args.runs} runs each, Prefect's tag-concurrency cache "
        f"{args.tag_cache}"
    )
    print(
        f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print()
    header = (
        f"{'':30}{'median s':>10}{'mean s':>10}{'min s':>10}{'max s':>10}{'per minute':>12}"
        f"{'API retries':>13}{'back-off s':>12}"
    )
    print(header)
    print("-" * len(header))
    for label, key, values in (
        ("full lifecycle (AADAP)", "full", full),
        ("baseline (no persistence)", "baseline", base),
        ("baseline, no artifacts", "bare", bare),
    ):
        print(
            f"{label:30}{_median(values):10.3f}{statistics.fmean(values):10.3f}"
            f"{min(values):10.3f}{max(values):10.3f}{60 * len(values) / sum(values):12.1f}"
            f"{statistics.fmean(figures.retries[key]):13.1f}"
            f"{statistics.fmean(figures.backoff[key]):12.1f}"
        )
    print("-" * len(header))
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"ratio full / baseline (medians): {ratio:.3f}  ({verdict} the target <= {TARGET_RATIO})")
    print(
        f"ratio full / baseline without the Prefect artifacts and tag (medians): "
        f"{_median(full) / _median(bare):.3f}"
    )
    paired = _median([f / b for f, b in zip(full, base, strict=True)])
    print(
        f"ratio within each round (median of the rounds' full/baseline; the two ran moments "
        f"apart, so the machine's slower and faster spells cancel): {paired:.3f}"
    )
    calm = {key: _calm(figures, key) for key in ("full", "baseline")}
    if calm["full"] and calm["baseline"]:
        print(
            f"ratio over the runs without a retried Prefect API call (medians; full "
            f"n={len(calm['full'])}, baseline n={len(calm['baseline'])}): "
            f"{_median(calm['full']) / _median(calm['baseline']):.3f}"
        )
    print(f"lifecycles per minute (full, sequential): {per_minute:.1f}")
    print(
        "API retries, back-off s: per lifecycle (mean), the Prefect client's retried API calls"
        " and the seconds it slept before retrying (a SQLite-backed Prefect server answers 503"
        " 'database is locked'); includes retries of background log/event uploads"
    )
    print()
    header = f"{'one-row write through the services':38}{'median ms':>12}{'p90 ms':>10}{'n':>6}"
    print(header)
    print("-" * len(header))
    for backend, timings in figures.writes.items():
        for table, values in timings.items():
            print(
                f"{table + ' on ' + backend:38}{_median(values):12.2f}{_p90(values):10.2f}{len(values):6}"
            )
    for note in figures.notes:
        print(f"note: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each flow")
    parser.add_argument("--prefect", choices=["ephemeral", "postgres"], default="ephemeral")
    parser.add_argument("--writes", type=int, default=200, help="timed writes of each row kind")
    parser.add_argument(
        "--tag-cache",
        choices=["primed", "natural"],
        default="primed",
        help="refresh Prefect's 5-s 'no concurrency limit' cache of the step tags before each"
        " measured lifecycle (primed), or leave it to expire on whichever arm (natural)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.writes < 1:
        parser.error("--runs and --writes must be at least 1")

    for name in list(os.environ):
        if name.startswith(("AADAP_", "PREFECT_")) and name != "AADAP_TEST_DATABASE_URL":
            del os.environ[name]
    with tempfile.TemporaryDirectory(prefix="aadap-bench-") as tmp, contextlib.ExitStack() as stack:
        home = Path(tmp)
        os.environ["AADAP_HOME"] = str(home / "aadap")
        os.environ["PREFECT_HOME"] = str(home / "prefect")
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        app_db_url = None
        if args.prefect == "postgres":
            print("starting prefect server on PostgreSQL …", flush=True)
            server_home = home / "prefect-server"
            server_home.mkdir()
            os.environ["PREFECT_API_URL"] = stack.enter_context(prefect_server(server_home))
            app_db_url = stack.enter_context(postgres_database("aadap_bench_app"))
            os.environ["AADAP_DATABASE_URL"] = app_db_url
        # what `aadap run` does before importing Prefect: quiet console, server logs at ERROR
        from aadap.cli._prefect_env import prepare
        from aadap.core.config import load_settings

        prepare(load_settings())
        figures = asyncio.run(measure(args, home, app_db_url))
        drain_prefect_workers()  # before the server (or the ephemeral API) goes away
        report(args, figures, "PostgreSQL" if app_db_url else "SQLite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
