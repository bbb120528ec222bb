"""Python and PySpark analysis: aliases, embedded SQL, DataFrame writes, platform utilities."""

from __future__ import annotations

import textwrap

import pytest

from aadap.core.enums import OperationClass, RiskLevel
from aadap.safety import Analysis, Finding, analyze


def py(code: str, *, platform: str = "databricks", existing: list[str] | None = None) -> Analysis:
    return analyze(
        textwrap.dedent(code), language="pyspark", platform=platform, existing_tables=existing
    )


def finding(analysis: Analysis, rule: str) -> Finding:
    return next(f for f in analysis.findings if f.rule == rule)


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("import os as o\no.system('ls')", "python.shell"),
        ("from os import system\nsystem('ls')", "python.shell"),
        ("from os import system as run_it\nrun_it('ls')", "python.shell"),
        ("import os\nrunner = os.system\nrunner('ls')", "python.shell"),
        ("import os\ngetattr(os, 'system')('ls')", "python.shell"),
        ("__import__('os').system('ls')", "python.shell"),
        ("import importlib\nimportlib.import_module('os').popen('ls')", "python.shell"),
        ("from os import *\nsystem('ls')", "python.shell"),
        ("import posix\nposix.system('ls')", "python.shell"),
        ("import os\nlist(map(os.system, ['a', 'b']))", "python.shell"),
        ("from subprocess import run as r\nr(['ls'])", "python.subprocess"),
        ("import subprocess as sp\nsp.check_output(['ls'])", "python.subprocess"),
        ("import shutil\nshutil.rmtree('/x')", "python.rmtree"),
        ("import os\nos.unlink('/x')", "python.file_delete"),
        ("from pathlib import Path\nPath('/x').unlink()", "python.file_delete"),
        ("import pickle\npickle.loads(b'')", "python.unsafe_deserialisation"),
        ("import yaml\nyaml.unsafe_load(s)", "python.unsafe_deserialisation"),
        ("eval('1 + 1')", "python.eval"),
        ("exec('x = 1')", "python.exec"),
        ("__builtins__['eval']('1')", "python.eval"),
        ("compile('1', 'f', 'eval')", "python.compile"),
        ("dbutils.fs.rm('/mnt/x', True)", "python.fs_rm"),
        ("mssparkutils.fs.rm('Files/x', True)", "python.fs_rm"),
        ("notebookutils.fs.rm('Files/x')", "python.fs_rm"),
        ("from notebookutils import mssparkutils as m\nm.fs.rm('x')", "python.fs_rm"),
        ("spark._jvm.java.lang.System.exit(0)", "python.jvm_access"),
        ("dbutils.notebook.run('other', 60)", "python.notebook_run"),
    ],
)
def test_dangerous_calls_through_any_alias(code: str, rule: str) -> None:
    analysis = py(code)
    assert rule in analysis.rules()
    assert finding(analysis, rule).severity >= RiskLevel.MEDIUM


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("import subprocess\nsubprocess.run(['ls'])", RiskLevel.HIGH),
        ("import subprocess\nsubprocess.run('ls', shell=True)", RiskLevel.CRITICAL),
        ("import subprocess\nsubprocess.getoutput('ls')", RiskLevel.CRITICAL),
        ("import os\nos.system('ls')", RiskLevel.CRITICAL),
        ("import os\nos.remove('x')", RiskLevel.HIGH),
    ],
)
def test_severities(code: str, severity: RiskLevel) -> None:
    assert py(code).risk is severity


def test_yaml_load_is_safe_only_with_a_safe_loader() -> None:
    assert py("import yaml\nyaml.load(s)").rules() == {"python.unsafe_deserialisation"}
    assert py("import yaml\nyaml.load(s, Loader=yaml.Loader)").rules() == {
        "python.unsafe_deserialisation"
    }
    assert py("import yaml\nyaml.load(s, Loader=yaml.SafeLoader)").findings == ()
    assert py("from yaml import load, CSafeLoader\nload(s, CSafeLoader)").findings == ()


def test_getattr_with_a_computed_name() -> None:
    flagged = py("import os\nname = input()\ngetattr(os, name)('id')")
    assert "python.dynamic_attribute" in flagged.rules()
    assert finding(flagged, "python.dynamic_attribute").unverified
    assert py("value = getattr(config, name, None)").findings == ()


def test_ordinary_code_is_not_flagged() -> None:
    analysis = py(
        """
        import re
        import subprocess
        from pyspark.sql import functions as F
        pattern = re.compile(r"\\d+")
        df = spark.table("main.sales.orders").filter(F.col("x") > 1)
        totals = df.groupBy("a").agg(F.sum("b"))
        settings = {}
        settings.update(a=1)
        pdf = totals.toPandas().query("a > 1")
        print(pdf.eval("b * 2"), subprocess.PIPE)
        """
    )
    assert analysis.findings == ()
    assert analysis.operation_class is OperationClass.READ_ONLY


# ---- SQL inside Python -------------------------------------------------------------


def test_spark_sql_literal_is_analysed_with_python_lines() -> None:
    analysis = py(
        '''
        df = spark.table("a")
        spark.sql("""
            SELECT 1;
            DELETE FROM main.sales.orders
        """)
        '''
    )
    assert ("sql.delete_without_where", 5) in [(f.rule, f.line) for f in analysis.findings]


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ('spark.sql(f"DROP TABLE {name}")', "sql.drop"),
        ('spark.sql("DELETE FROM " + name)', "sql.delete_without_where"),
        ('spark.sql("TRUNCATE TABLE {}".format(name))', "sql.truncate"),
        ('spark.sql("DROP TABLE %s" % name)', "sql.drop"),
        ('spark.sql(f"{verb} TABLE {name}")', None),
        ("spark.sql(f\"SELECT * FROM t WHERE d = '{d}'\")", None),
        ("spark.sql(build_query())", None),
        ("spark.sql(sql_text)", None),
    ],
)
def test_dynamic_sql_is_high_and_keeps_the_destructive_rule(code: str, extra: str | None) -> None:
    analysis = py(code)
    dynamic = finding(analysis, "python.dynamic_sql")
    assert dynamic.severity is RiskLevel.HIGH
    assert dynamic.unverified
    if extra is not None:
        assert extra in analysis.rules()


def test_dynamic_sql_with_only_a_keyword_hole_still_reports_the_constant_parts() -> None:
    analysis = py('spark.sql(f"DROP {kind} {name}")')
    assert {"python.dynamic_sql", "sql.drop"} <= analysis.rules()


def test_concatenated_literals_are_static() -> None:
    analysis = py('spark.sql("SELECT * " + "FROM t")')
    assert analysis.findings == ()


def test_module_constant_sql_is_resolved() -> None:
    analysis = py(
        """
        CLEANUP = "TRUNCATE TABLE main.sales.orders"

        def run():
            spark.sql(CLEANUP)
        """
    )
    assert analysis.rules() == {"sql.truncate"}
    assert finding(analysis, "sql.truncate").line == 2


def test_constant_shadowed_by_a_parameter_is_dynamic() -> None:
    analysis = py(
        """
        QUERY = "SELECT 1"

        def run(QUERY):
            spark.sql(QUERY)
        """
    )
    assert "python.dynamic_sql" in analysis.rules()


def test_duckdb_and_dbapi_execute() -> None:
    analysis = analyze(
        "import duckdb\ncon = duckdb.connect()\ncon.execute('DROP TABLE t')\n", language="python"
    )
    assert analysis.rules() == {"sql.drop"}
    assert py("executor.execute(task)").findings == ()
    assert "python.dynamic_sql" in py("cursor.execute(query)").rules()


# ---- DataFrame writes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "existing", "rule", "operation"),
    [
        (
            'df.write.mode("overwrite").saveAsTable("s.t")',
            ["s.t"],
            "spark.overwrite",
            OperationClass.DESTRUCTIVE,
        ),
        (
            'df.write.mode("overwrite").saveAsTable("s.t")',
            None,
            "spark.overwrite",
            OperationClass.DESTRUCTIVE,
        ),
        (
            'df.write.mode("overwrite").saveAsTable("s.new")',
            ["s.t"],
            "spark.write",
            OperationClass.WRITE,
        ),
        (
            'df.write.format("delta").mode("overwrite").saveAsTable("s.t")',
            ["s.t"],
            "spark.overwrite",
            OperationClass.DESTRUCTIVE,
        ),
        (
            'df.write.saveAsTable("s.t", mode="overwrite")',
            ["s.t"],
            "spark.overwrite",
            OperationClass.DESTRUCTIVE,
        ),
        (
            'df.write.mode("OVERWRITE").parquet("/mnt/x")',
            [],
            "spark.overwrite",
            OperationClass.DESTRUCTIVE,
        ),
        (
            'df.write.mode("append").saveAsTable("s.t")',
            ["s.t"],
            "spark.write",
            OperationClass.WRITE,
        ),
        (
            'df.write.mode("errorifexists").saveAsTable("s.new")',
            ["s.t"],
            "spark.write",
            OperationClass.WRITE,
        ),
        ('df.write.saveAsTable("s.t")', ["s.t"], "spark.save_existing_table", OperationClass.WRITE),
        (
            'df.write.insertInto("s.t", overwrite=True)',
            ["s.t"],
            "spark.insert_overwrite",
            OperationClass.DESTRUCTIVE,
        ),
        ('df.write.insertInto("s.t")', ["s.t"], "spark.write", OperationClass.WRITE),
        (
            'df.write.mode(m).saveAsTable("s.new")',
            [],
            "spark.overwrite",
            OperationClass.DESTRUCTIVE,
        ),
        (
            'df.writeTo("s.t").createOrReplace()',
            ["s.t"],
            "spark.replace_table",
            OperationClass.DESTRUCTIVE,
        ),
        ('df.writeTo("s.new").createOrReplace()', ["s.t"], "spark.write", OperationClass.WRITE),
        (
            'df.writeTo("s.t").overwritePartitions()',
            [],
            "spark.replace_table",
            OperationClass.DESTRUCTIVE,
        ),
        ('df.writeTo("s.t").append()', [], "spark.write", OperationClass.WRITE),
        (
            'w = df.write.mode("overwrite")\nw.saveAsTable(name)',
            [],
            "spark.overwrite",
            OperationClass.DESTRUCTIVE,
        ),
        (
            'pdf.to_sql("t", con, if_exists="replace")',
            ["t"],
            "python.to_sql_replace",
            OperationClass.DESTRUCTIVE,
        ),
        ('pdf.to_csv("out.csv")', None, "python.file_write", OperationClass.WRITE),
    ],
)
def test_dataframe_writes(
    code: str, existing: list[str] | None, rule: str, operation: OperationClass
) -> None:
    analysis = py(code, existing=existing)
    assert rule in analysis.rules()
    assert analysis.operation_class is operation


def test_reads_are_not_writes() -> None:
    analysis = py('df = spark.read.format("csv").option("header", True).csv("/mnt/raw")\ndf.show()')
    assert analysis.findings == ()


@pytest.mark.parametrize(
    ("code", "rule", "severity"),
    [
        (
            'DeltaTable.forName(spark, "t").delete()',
            "delta.delete_without_condition",
            RiskLevel.CRITICAL,
        ),
        (
            'dt = DeltaTable.forPath(spark, "/p")\ndt.delete("id = 1")',
            "delta.delete",
            RiskLevel.HIGH,
        ),
        (
            'dt = DeltaTable.forName(spark, "t")\ndt.update(set={"a": "1"})',
            "delta.update_without_condition",
            RiskLevel.CRITICAL,
        ),
        ('DeltaTable.forName(spark, "t").vacuum(0)', "delta.vacuum", RiskLevel.HIGH),
        ('DeltaTable.forName(spark, "t").restoreToVersion(3)', "delta.restore", RiskLevel.HIGH),
        (
            'dt.alias("t").merge(s, "c").whenMatchedDelete().execute()',
            "delta.merge_delete",
            RiskLevel.HIGH,
        ),
    ],
)
def test_delta_table_operations(code: str, rule: str, severity: RiskLevel) -> None:
    analysis = py("from delta.tables import DeltaTable\n" + code)
    assert finding(analysis, rule).severity is severity


# ---- parse failures and notebooks -----------------------------------------------------


def test_syntax_error_is_never_safe() -> None:
    analysis = py("!pip install x\nimport pandas")
    assert analysis.rules() == {"python.syntax_error"}
    assert analysis.risk is RiskLevel.MEDIUM
    assert analysis.unverified


def test_deeply_nested_code_is_reported_not_crashed() -> None:
    analysis = py("x = " + "+".join(["a"] * 100_000))
    assert analysis.unverified
    assert analysis.risk >= RiskLevel.MEDIUM


def test_databricks_magic_cells_are_analysed() -> None:
    analysis = py(
        """
        # Databricks notebook source
        x = 1

        # COMMAND ----------

        # MAGIC %sql
        # MAGIC SELECT 1;
        # MAGIC DROP TABLE main.sales.orders

        # COMMAND ----------

        # MAGIC %sh rm -rf /dbfs/tmp

        # COMMAND ----------

        # MAGIC %run ./other_notebook
        """
    )
    lines = {(f.rule, f.line) for f in analysis.findings}
    assert ("sql.drop", 9) in lines
    assert ("notebook.shell", 13) in lines
    assert ("notebook.run", 17) in lines


def test_sqlalchemy_text_is_sql_and_orm_statements_are_not() -> None:
    analysis = py(
        """
        from sqlalchemy import select, text
        session.execute(select(User).where(User.id == 1))
        session.execute(text("DELETE FROM users"))
        """
    )
    assert analysis.rules() == {"sql.delete_without_where"}
