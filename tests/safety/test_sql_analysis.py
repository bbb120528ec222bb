"""SQL analysis: statement rules, dialects, line numbers, catalog matching, fail-closed parsing."""

from __future__ import annotations

import logging

import pytest

from aadap.core.enums import Language, OperationClass, PlatformKind, RiskLevel
from aadap.safety import Analysis, analyze
from aadap.safety._catalog import TableCatalog
from aadap.safety.sql.script import MAX_STATEMENT_TOKENS, parse_script, quiet_parser, sql_dialects


def sql(code: str, platform: str = "local", existing: list[str] | None = None) -> Analysis:
    return analyze(code, language=Language.SQL, platform=platform, existing_tables=existing)


def rule_lines(analysis: Analysis) -> list[tuple[str, int | None]]:
    return [(f.rule, f.line) for f in analysis.findings]


@pytest.mark.parametrize(
    ("platform", "spark", "expected"),
    [
        (PlatformKind.LOCAL, False, ("duckdb",)),
        (PlatformKind.DATABRICKS, False, ("databricks",)),
        (PlatformKind.FABRIC, False, ("tsql", "spark")),
        (PlatformKind.LOCAL, True, ("spark",)),
        (PlatformKind.DATABRICKS, True, ("databricks",)),
        (PlatformKind.FABRIC, True, ("spark", "tsql")),
    ],
)
def test_dialect_follows_the_platform(
    platform: PlatformKind, spark: bool, expected: tuple[str, ...]
) -> None:
    assert sql_dialects(platform, spark=spark) == expected


@pytest.mark.parametrize(
    ("code", "rule", "severity", "operation"),
    [
        ("DROP TABLE sales.orders", "sql.drop", RiskLevel.CRITICAL, OperationClass.DESTRUCTIVE),
        ("DROP SCHEMA sales", "sql.drop", RiskLevel.CRITICAL, OperationClass.DESTRUCTIVE),
        ("DROP DATABASE sales", "sql.drop", RiskLevel.CRITICAL, OperationClass.DESTRUCTIVE),
        ("DROP VIEW v", "sql.drop", RiskLevel.HIGH, OperationClass.DESTRUCTIVE),
        ("TRUNCATE TABLE orders", "sql.truncate", RiskLevel.CRITICAL, OperationClass.DESTRUCTIVE),
        (
            "DELETE FROM orders",
            "sql.delete_without_where",
            RiskLevel.CRITICAL,
            OperationClass.DESTRUCTIVE,
        ),
        (
            "DELETE FROM orders;",
            "sql.delete_without_where",
            RiskLevel.CRITICAL,
            OperationClass.DESTRUCTIVE,
        ),
        (
            "DELETE FROM orders WHERE TRUE",
            "sql.delete_without_where",
            RiskLevel.CRITICAL,
            OperationClass.DESTRUCTIVE,
        ),
        (
            "DELETE FROM orders WHERE id = 3",
            "sql.delete",
            RiskLevel.HIGH,
            OperationClass.DESTRUCTIVE,
        ),
        (
            "UPDATE orders SET a = 1",
            "sql.update_without_where",
            RiskLevel.CRITICAL,
            OperationClass.DESTRUCTIVE,
        ),
        (
            "UPDATE orders SET a = 1 WHERE id = 3",
            "sql.update",
            RiskLevel.MEDIUM,
            OperationClass.WRITE,
        ),
        (
            "ALTER TABLE orders ADD COLUMN c INT",
            "sql.alter",
            RiskLevel.HIGH,
            OperationClass.SCHEMA_CHANGE,
        ),
        (
            "GRANT SELECT ON orders TO bob",
            "sql.grant",
            RiskLevel.HIGH,
            OperationClass.PERMISSION_CHANGE,
        ),
        (
            "REVOKE SELECT ON orders FROM bob",
            "sql.revoke",
            RiskLevel.HIGH,
            OperationClass.PERMISSION_CHANGE,
        ),
        (
            "INSERT INTO orders SELECT * FROM staging",
            "sql.insert",
            RiskLevel.LOW,
            OperationClass.WRITE,
        ),
        ("CREATE TABLE t AS SELECT 1 AS a", "sql.create", RiskLevel.LOW, OperationClass.WRITE),
    ],
)
def test_statement_rules(
    code: str, rule: str, severity: RiskLevel, operation: OperationClass
) -> None:
    analysis = sql(code)
    assert [(f.rule, f.severity, f.operation) for f in analysis.findings] == [
        (rule, severity, operation)
    ]
    assert analysis.operation_class is operation
    assert analysis.risk is severity


def test_databricks_only_statements() -> None:
    assert sql("GRANT ALL PRIVILEGES ON SCHEMA s TO g", "databricks").rules() == {"sql.grant_all"}
    assert sql("INSERT OVERWRITE TABLE t SELECT * FROM s", "databricks").rules() == {
        "sql.insert_overwrite"
    }
    merge = (
        "MERGE INTO t USING s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    assert sql(merge, "databricks").operation_class is OperationClass.WRITE
    assert sql(merge, "databricks").risk is RiskLevel.MEDIUM
    deleting = "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE"
    assert sql(deleting, "databricks").rules() == {"sql.merge_delete"}
    assert sql(deleting, "databricks").operation_class is OperationClass.DESTRUCTIVE


@pytest.mark.parametrize(
    "code",
    [
        "SELECT * FROM t",
        "SHOW TABLES",
        "DESCRIBE t",
        "SUMMARIZE t",
        "WITH a AS (SELECT 1) SELECT * FROM a",
    ],
)
def test_reads_have_no_risky_finding(code: str) -> None:
    analysis = sql(code, "databricks" if code.startswith("SHOW") else "local")
    assert analysis.operation_class is OperationClass.READ_ONLY
    assert analysis.risk is RiskLevel.NONE


def test_every_statement_of_a_script_is_checked_with_its_line() -> None:
    code = "SELECT 1;\n\n-- cleanup\nDROP TABLE a;\nSELECT 2;\nDELETE FROM b\n"
    analysis = sql(code)
    assert ("sql.multi_statement", 1) in rule_lines(analysis)
    assert ("sql.drop", 4) in rule_lines(analysis)
    assert ("sql.delete_without_where", 6) in rule_lines(analysis)
    assert analysis.statements == 4
    multi = next(f for f in analysis.findings if f.rule == "sql.multi_statement")
    assert multi.severity >= RiskLevel.MEDIUM


def test_tsql_go_separators_are_not_statements() -> None:
    analysis = sql("SELECT 1\nGO\n", "fabric")
    assert analysis.findings == ()


def test_statement_nested_in_a_tsql_if_block_is_found() -> None:
    analysis = sql("IF OBJECT_ID('t') IS NOT NULL\n  DROP TABLE t", "fabric")
    assert analysis.rules() == {"sql.drop"}


def test_fabric_falls_back_to_spark_sql() -> None:
    script = parse_script(
        "SELECT `a` FROM lake.`orders` LIMIT 5", sql_dialects(PlatformKind.FABRIC)
    )
    assert script.dialect == "spark"
    assert script.failures == 0


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("SELECT amount FROM WHERE amount > 1", "sql.unparseable"),
        ("SELECT 'unterminated", "sql.unparseable"),
        ("SELEC * FORM orders", "sql.unrecognised"),
        ("hello world", "sql.unrecognised"),
    ],
)
def test_code_that_does_not_parse_is_never_safe(code: str, rule: str) -> None:
    analysis = sql(code)
    finding = next(f for f in analysis.findings if f.rule == rule)
    assert finding.severity >= RiskLevel.MEDIUM
    assert finding.unverified
    assert analysis.unverified


def test_unparseable_statement_keeps_its_keywords() -> None:
    analysis = sql("DENY SELECT ON dbo.t TO u", "fabric")
    assert analysis.rules() == {"sql.unparseable", "sql.deny"}
    assert analysis.operation_class is OperationClass.PERMISSION_CHANGE


def test_command_fallbacks_are_classified_without_log_noise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="sqlglot")
    assert sql("VACUUM t RETAIN 0 HOURS", "databricks").rules() == {"sql.vacuum"}
    assert sql("DROP CATALOG c", "databricks").risk is RiskLevel.CRITICAL
    assert (
        sql("ALTER TABLE t SET OWNER TO x", "databricks").operation_class
        is OperationClass.PERMISSION_CHANGE
    )
    assert sql("SHOW GRANTS ON t", "databricks").findings == ()
    assert [r for r in caplog.records if r.name.startswith("sqlglot")] == []


def test_quiet_parser_falls_back_when_subclassing_is_refused() -> None:
    class Sealed:
        def __init_subclass__(cls) -> None:
            raise TypeError("compiled classes cannot be subclassed at run time")

    assert quiet_parser(Sealed) is Sealed  # type: ignore[arg-type]


def test_huge_statement_is_not_parsed_but_reported() -> None:
    code = "SELECT " + "+".join(["a"] * (MAX_STATEMENT_TOKENS // 2 + 10)) + " FROM t"
    analysis = sql(code)
    assert analysis.rules() == {"sql.unparseable"}


# ---- CREATE OR REPLACE and the catalog of existing tables ----------------------------


@pytest.mark.parametrize(
    ("existing", "rule", "operation"),
    [
        (["sales.orders"], "sql.create_or_replace_existing", OperationClass.DESTRUCTIVE),
        (["SALES.Orders"], "sql.create_or_replace_existing", OperationClass.DESTRUCTIVE),
        (["main.sales.orders"], "sql.create_or_replace_existing", OperationClass.DESTRUCTIVE),
        (["orders"], "sql.create_or_replace_existing", OperationClass.DESTRUCTIVE),
        (["sales.*"], "sql.create_or_replace_existing", OperationClass.DESTRUCTIVE),
        (["hr.orders"], "sql.create_or_replace", OperationClass.WRITE),
        ([], "sql.create_or_replace", OperationClass.WRITE),
        (None, "sql.create_or_replace_existing", OperationClass.DESTRUCTIVE),
    ],
)
def test_create_or_replace_depends_on_the_catalog(
    existing: list[str] | None, rule: str, operation: OperationClass
) -> None:
    analysis = sql(
        "CREATE OR REPLACE TABLE `sales`.`orders` AS SELECT 1 AS a", "databricks", existing
    )
    assert analysis.rules() == {rule}
    assert analysis.operation_class is operation


def test_catalog_matching() -> None:
    catalog = TableCatalog(["Sales.Orders", "[dbo].[Customers]", "lake.*"])
    assert catalog.exists("sales.orders")
    assert catalog.exists("orders")
    assert catalog.exists("main.sales.orders")
    assert catalog.exists("dbo.customers")
    assert catalog.exists("lake.anything")
    assert not catalog.exists("hr.orders")
    assert not catalog.exists("other")
    assert catalog.exists("aadap_param")  # a dynamic name is never known to be new
    assert TableCatalog(None).may_exist("whatever")
    assert not TableCatalog(None).exists("whatever")
    assert not TableCatalog([]).may_exist("whatever")


def test_temporary_objects_are_not_writes() -> None:
    analysis = sql("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", "databricks")
    assert analysis.findings == ()
