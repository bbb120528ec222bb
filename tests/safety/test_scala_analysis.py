"""Scala analysis by conservative patterns over masked source."""

from __future__ import annotations

import textwrap

import pytest

from aadap.core.enums import OperationClass, RiskLevel
from aadap.safety import Analysis, analyze
from aadap.safety.scala.lexing import mask, statements


def scala(code: str, existing: list[str] | None = None) -> Analysis:
    return analyze(
        textwrap.dedent(code), language="scala", platform="databricks", existing_tables=existing
    )


def test_clean_scala_carries_the_pattern_only_note_but_can_be_auto_approved() -> None:
    analysis = scala('val n = spark.table("main.sales.orders").count()\nprintln(n)')
    assert analysis.rules() == {"scala.pattern_only"}
    note = analysis.findings[0]
    assert note.severity is RiskLevel.LOW
    assert not note.unverified
    assert analysis.operation_class is OperationClass.READ_ONLY


def test_masking_keeps_offsets_and_hides_comments_and_string_contents() -> None:
    source = 'val a = "x // y" // DROP TABLE t\n/* dbutils.fs.rm("/") */ val b = """q"""\n'
    masked = mask(source)
    assert len(masked.code) == len(masked.text) == len(source)
    assert "DROP" not in masked.code and "DROP" not in masked.text
    assert "dbutils" not in masked.code
    assert '"x // y"' in masked.text
    assert '"      "' in masked.code


def test_method_chains_are_one_statement() -> None:
    code = 'df.write\n  .format("delta")\n  .mode("overwrite")\n  .saveAsTable("t")\nval x = 1\n'
    assert len(statements(mask(code).code)) == 2


def test_patterns_in_comments_and_strings_do_not_fire() -> None:
    analysis = scala(
        """
        // dbutils.fs.rm("/mnt/raw", true) and Runtime.getRuntime.exec("x")
        val msg = "never call .delete() or DROP TABLE here"
        println(msg)
        """
    )
    assert analysis.rules() == {"scala.pattern_only"}


@pytest.mark.parametrize(
    ("code", "existing", "rule"),
    [
        ('df.write.mode(SaveMode.Overwrite).saveAsTable("s.t")', ["s.t"], "spark.overwrite"),
        ('df.write.mode("overwrite").saveAsTable("s.t")', None, "spark.overwrite"),
        ('df.write.mode(Overwrite).parquet("/mnt/x")', [], "spark.overwrite"),
        ('df.write.mode(mode).saveAsTable("s.new")', [], "spark.overwrite"),
        ('df.write.mode(SaveMode.Append).saveAsTable("s.t")', ["s.t"], "spark.write"),
        ('df.write.mode("overwrite").saveAsTable("s.new")', ["s.t"], "spark.write"),
        ('df.writeTo("s.t").replace()', [], "spark.replace_table"),
        ("val w = df.write.mode(SaveMode.Overwrite)\nw.save(path)", [], "spark.overwrite"),
    ],
)
def test_writes(code: str, existing: list[str] | None, rule: str) -> None:
    assert rule in scala(code, existing).rules()


def test_spark_sql_literal_with_strip_margin_keeps_lines() -> None:
    analysis = scala(
        '''
        val q = spark.sql(
          """
            |SELECT 1;
            |DELETE FROM main.sales.orders
            |""".stripMargin)
        '''
    )
    assert ("sql.delete_without_where", 5) in [(f.rule, f.line) for f in analysis.findings]


def test_val_constant_sql_is_resolved() -> None:
    analysis = scala('val cleanup = "TRUNCATE TABLE t"\nspark.sql(cleanup)')
    assert "sql.truncate" in analysis.rules()
    assert "scala.dynamic_sql" not in analysis.rules()


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ('spark.sql(s"DROP TABLE $name")', "sql.drop"),
        ('spark.sql(s"SELECT * FROM ${t}")', None),
        ("spark.sql(query)", None),
    ],
)
def test_dynamic_sql(code: str, extra: str | None) -> None:
    analysis = scala(code)
    assert "scala.dynamic_sql" in analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH
    if extra:
        assert extra in analysis.rules()


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ('dbutils.fs.rm("/mnt/x", true)', "scala.fs_rm"),
        ('Runtime.getRuntime.exec("ls")', "scala.shell"),
        ('Runtime.getRuntime().exec(Array("sh"))', "scala.shell"),
        ('import scala.sys.process._\n"ls".!', "scala.shell"),
        ('val out = Seq("ls", "-l").!!', "scala.shell"),
        ('new ProcessBuilder("ls").start()', "scala.shell"),
        ('new java.io.File("/x").delete()', "scala.file_delete"),
        ('Files.deleteIfExists(Paths.get("/x"))', "scala.file_delete"),
        ('fs.delete(new Path("/mnt/x"), true)', "scala.fs_delete"),
        ('FileUtils.deleteDirectory(new File("/x"))', "scala.file_delete"),
        ('Class.forName(name).getMethod("run").invoke(null)', "scala.reflection"),
        ("new ObjectInputStream(in).readObject()", "scala.unsafe_deserialisation"),
        ('DeltaTable.forName(spark, "t").delete()', "delta.delete_without_condition"),
        ('DeltaTable.forName(spark, "t").vacuum(0)', "delta.vacuum"),
    ],
)
def test_dangerous_patterns(code: str, rule: str) -> None:
    analysis = scala(code)
    assert rule in analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH


def test_not_equal_is_not_a_shell_call() -> None:
    assert scala('if (a != "x") println(a)').rules() == {"scala.pattern_only"}


def test_imported_sql_function_is_checked_but_a_definition_is_not() -> None:
    analysis = scala('import spark.sql\nsql("DROP TABLE t")\ndef sql(q: String) = q')
    assert analysis.rules() == {"scala.pattern_only", "sql.drop"}


@pytest.mark.parametrize(
    ("code", "what", "line"),
    [
        ('val q = """\nspark.sql("DROP TABLE t")\n', "string", 1),
        ('spark.table("t").count()\n/* later\nspark.sql("DROP TABLE t")\n', "comment", 2),
    ],
)
def test_an_unclosed_string_or_comment_is_named_where_it_opens(
    code: str, what: str, line: int
) -> None:
    [finding] = [f for f in scala(code).findings if f.rule == "scala.unterminated"]
    assert (finding.severity, finding.line, finding.unverified) == (RiskLevel.MEDIUM, line, True)
    assert finding.message.startswith(f"a {what} opened here never closes")
