"""LocalPlatform: real DuckDB files and real subprocesses."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aadap.core.config import PlatformSettings
from aadap.core.enums import ExecutionStatus, Language, PlatformKind
from aadap.core.exceptions import (
    DeploymentFailedError,
    InvalidConfigurationError,
    PlatformConnectionError,
    PlatformTimeoutError,
    is_retryable,
)
from aadap.platforms import LocalPlatform, Platform, create_platform


@pytest.fixture
async def local(tmp_path: Path, settings: PlatformSettings) -> AsyncIterator[LocalPlatform]:
    async with LocalPlatform(tmp_path / "db" / "local.duckdb", tmp_path / "runs", settings) as p:
        yield p


async def test_is_a_platform(local: LocalPlatform) -> None:
    assert isinstance(local, Platform)
    assert local.kind is PlatformKind.LOCAL


async def test_ctas_reports_new_table_rows_and_dml_counts(local: LocalPlatform) -> None:
    result = await local.run(
        "CREATE TABLE orders AS SELECT range AS id, range % 3 AS region FROM range(10);",
        language=Language.SQL,
        name="ctas",
    )
    assert result.rows_affected == 10
    assert result.status is ExecutionStatus.SUCCESS
    assert result.duration_ms is not None

    dml = await local.run(
        "INSERT INTO orders VALUES (100, 1), (101, 1); DELETE FROM orders WHERE id < 3;",
        language=Language.SQL,
        name="dml",
    )
    assert dml.rows_affected == 5
    assert dml.raw["statements"] == ["INSERT", "DELETE"]
    assert await local.list_tables() == ["orders"]
    assert await local.table_columns("orders") == [
        {"name": "id", "type": "BIGINT"},
        {"name": "region", "type": "BIGINT"},
    ]
    assert await local.table_columns("missing") == []


async def test_table_info_counts_rows_of_tables_and_says_what_is_missing(
    local: LocalPlatform,
) -> None:
    assert [t.exists for t in await local.table_info(["orders"])] == [False]  # no file yet
    await local.run(
        "CREATE TABLE orders AS SELECT range AS id FROM range(7); CREATE SCHEMA s; "
        'CREATE TABLE s."Odd ""Name""" AS SELECT 1 AS x; '
        "CREATE VIEW big AS SELECT * FROM orders, orders AS o2;",
        language=Language.SQL,
        name="seed",
    )
    info = await local.table_info(["main.orders", 's."odd ""name"""', "big", "nope"])
    assert [(t.exists, t.rows, t.found_as) for t in info] == [
        (True, 7, "orders"),
        (True, 1, 's.Odd "Name"'),
        (True, None, "big"),  # a view is not counted: it may read a large file
        (False, None, None),
    ]
    assert await local.table_info([]) == []


async def test_query_preview_is_json_safe_and_counts_all_rows(local: LocalPlatform) -> None:
    result = await local.run(
        "SELECT range AS n, 1.5::DECIMAL(4,1) AS d, DATE '2024-01-02' + range::INT AS day, "
        "'x'::BLOB AS b, [range] AS l, 'nan'::DOUBLE AS f FROM range(120) ORDER BY n",
        language=Language.SQL,
        name="preview",
    )
    assert result.row_count == 120
    assert len(result.rows) == 50
    assert result.columns == ["n", "d", "day", "b", "l", "f"]
    assert result.rows[1] == {
        "n": 1,
        "d": "1.5",
        "day": "2024-01-03",
        "b": "eA==",
        "l": [1],
        "f": "nan",
    }
    json.dumps(result.rows)


async def test_sql_parameters(local: LocalPlatform) -> None:
    await local.run(
        "CREATE TABLE t AS SELECT range AS i FROM range(5)", language=Language.SQL, name="t"
    )
    result = await local.run(
        "SELECT count(*) AS c FROM t WHERE i >= $lo",
        language=Language.SQL,
        parameters={"lo": "3"},
        name="p",
    )
    assert result.rows == [{"c": 2}]


async def test_bad_sql_fails_and_run_raises(local: LocalPlatform) -> None:
    handle = await local.submit("SELEC 1", language=Language.SQL, name="typo")
    failed = await local.wait(handle)
    assert failed.status is ExecutionStatus.FAILED
    assert failed.error is not None and "syntax error" in failed.error

    with pytest.raises(DeploymentFailedError) as caught:
        await local.run("SELECT * FROM nowhere", language=Language.SQL, name="missing")
    assert "nowhere" in caught.value.details["platform_message"]
    assert caught.value.details["platform"] == "local"
    assert not is_retryable(caught.value)


async def test_python_output_parameters_and_own_workdir(
    local: LocalPlatform, tmp_path: Path
) -> None:
    code = (
        "import json, os, pathlib\n"
        "pathlib.Path('out.txt').write_text('x')\n"
        "params = json.loads(os.environ['AADAP_RUN_PARAMETERS'])\n"
        "print('hello', params['day'], sorted(k for k in os.environ if k.startswith('AADAP_')))\n"
    )
    result = await local.run(code, language=Language.PYTHON, parameters={"day": "d1"}, name="py")
    assert result.output.strip() == "hello d1 ['AADAP_RUN_PARAMETERS']"
    workdir = Path(result.raw["workdir"])
    assert workdir.parent == tmp_path / "runs"
    assert (workdir / "out.txt").read_text() == "x"


async def test_python_non_zero_exit_is_failed_with_stderr_tail(local: LocalPlatform) -> None:
    handle = await local.submit(
        "import sys\nprint('partial')\nraise SystemExit('broken input: orders.csv')\n",
        language=Language.PYTHON,
        name="exit",
    )
    result = await local.fetch_output(handle)
    assert result.status is ExecutionStatus.FAILED
    assert result.raw["exit_code"] == 1
    assert result.output.strip() == "partial"
    assert result.error is not None and "broken input: orders.csv" in result.error


async def test_pyspark_without_pyspark_fails_clearly(local: LocalPlatform) -> None:
    if importlib.util.find_spec("pyspark") is not None:
        pytest.skip("pyspark is installed here, so PySpark code can run locally")
    with pytest.raises(DeploymentFailedError, match="No module named 'pyspark'"):
        await local.run(
            "from pyspark.sql import SparkSession\n", language=Language.PYSPARK, name="spark"
        )


async def test_python_timeout_kills_the_process(tmp_path: Path) -> None:
    settings = PlatformSettings(local_python_timeout_seconds=0.5)
    async with LocalPlatform(tmp_path / "l.duckdb", tmp_path / "runs", settings) as p:
        with pytest.raises(PlatformTimeoutError) as caught:
            await p.submit(
                "import time\nprint('started', flush=True)\ntime.sleep(30)\n",
                language=Language.PYTHON,
                name="sleepy",
            )
    assert caught.value.details["stdout_tail"].strip() == "started"
    assert is_retryable(caught.value)


async def test_scala_is_refused(local: LocalPlatform) -> None:
    with pytest.raises(InvalidConfigurationError, match="cannot run scala"):
        await local.submit('println("x")', language=Language.SCALA, name="s")


async def test_cancel_and_unknown_handles(local: LocalPlatform) -> None:
    handle = await local.submit("SELECT 1", language=Language.SQL, name="one")
    await local.cancel(handle)  # already finished: nothing to stop
    assert (await local.poll(handle)).status is ExecutionStatus.SUCCESS
    async with LocalPlatform(local.database_path, local.workdir, local.settings) as other:
        with pytest.raises(InvalidConfigurationError, match="unknown local run"):
            await other.poll(handle)


async def test_test_connection_and_factory(tmp_path: Path, settings: PlatformSettings) -> None:
    platform = create_platform("local", settings, home=tmp_path)
    assert isinstance(platform, LocalPlatform)
    assert platform.database_path == tmp_path / "local.duckdb"
    assert await platform.test_connection() >= 0
    assert await platform.list_tables() == []
    with pytest.raises(InvalidConfigurationError, match="kind='snowflake'"):
        create_platform("snowflake", settings, home=tmp_path)
    with pytest.raises(InvalidConfigurationError, match="needs its connection config"):
        create_platform("databricks", settings)
    with pytest.raises(InvalidConfigurationError, match="token"):
        create_platform(
            "databricks", settings, config={"workspace_url": "https://x.azuredatabricks.net"}
        )


async def test_unusable_database_is_a_connection_error(
    tmp_path: Path, settings: PlatformSettings
) -> None:
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_bytes(b"this is not a duckdb file" * 100)
    async with LocalPlatform(bad, tmp_path / "runs", settings) as p:
        with pytest.raises(PlatformConnectionError, match="cannot open the local DuckDB database"):
            await p.test_connection()
        with pytest.raises(PlatformConnectionError):
            await p.list_tables()


async def test_cancelling_the_caller_kills_the_process(
    local: LocalPlatform, tmp_path: Path
) -> None:
    # the run writes its pid in its own folder (the sandbox allows nothing else)
    code = "import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(30)\n"
    task = asyncio.create_task(local.submit(code, language=Language.PYTHON, name="cancelled"))
    markers: list[Path] = []
    for _ in range(500):
        markers = list((tmp_path / "runs").glob("run-*/pid"))
        if markers and markers[0].read_text():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pid = int(markers[0].read_text())
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail(f"process {pid} survived the cancellation")
