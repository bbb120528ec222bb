"""The deterministic syntax check, per language and platform dialect."""

from __future__ import annotations

import pytest

from aadap.agents import check_syntax
from aadap.core.enums import Language, PlatformKind

LOCAL = PlatformKind.LOCAL


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "CREATE TABLE t AS WITH a AS (SELECT 1 AS x) SELECT * FROM a",
        "SELECT * FROM read_csv_auto('/tmp/o.csv') QUALIFY row_number() OVER (PARTITION BY a) = 1",
        "SUMMARIZE orders",
        "SELECT 1; SELECT 2;",
    ],
)
def test_valid_duckdb_sql(sql: str) -> None:
    report = check_syntax(sql, Language.SQL, LOCAL)
    assert report.ok, report.issues
    assert report.dialect == "duckdb"


@pytest.mark.parametrize(
    "sql",
    ["SELECT * FROM", "SELECT (1", "SELECT 'unterminated", "FOO BAR", "print('x')", "   ", ";"],
)
def test_broken_sql(sql: str) -> None:
    report = check_syntax(sql, Language.SQL, LOCAL)
    assert not report.ok
    assert report.checked


def test_error_carries_the_line() -> None:
    report = check_syntax("SELECT 1;\nSELECT * FROM", Language.SQL, LOCAL)
    assert report.issues[0].line == 2


def test_fabric_sql_is_checked_as_the_spark_sql_it_runs_as() -> None:
    # Fabric SQL runs through spark.sql in a lakehouse notebook (aadap/platforms/fabric.py):
    # T-SQL that a T-SQL check would pass (TOP, GETDATE(), [brackets]) fails at run time.
    spark = check_syntax("SELECT `order id` FROM orders LIMIT 5", Language.SQL, PlatformKind.FABRIC)
    assert (spark.ok, spark.dialect) == (True, "spark")
    for tsql in ("SELECT TOP 5 * FROM dbo.orders", "SELECT [order id] FROM orders"):
        report = check_syntax(tsql, Language.SQL, PlatformKind.FABRIC)
        assert (report.ok, report.dialect) == (False, "spark"), tsql


def test_databricks_dialect() -> None:
    report = check_syntax("SELECT * FROM main.sales.orders", Language.SQL, PlatformKind.DATABRICKS)
    assert (report.ok, report.dialect) == (True, "databricks")


@pytest.mark.parametrize("language", [Language.PYTHON, Language.PYSPARK])
def test_python(language: Language) -> None:
    assert check_syntax("df = spark.range(3)\ndf.show()", language, LOCAL).ok
    broken = check_syntax("x = (1,\n", language, LOCAL)
    assert not broken.ok
    assert broken.issues[0].message.startswith("Python syntax error")


def test_scala_is_not_checked() -> None:
    report = check_syntax("val x = 1", Language.SCALA, PlatformKind.DATABRICKS)
    assert (report.checked, report.ok) == (False, True)
