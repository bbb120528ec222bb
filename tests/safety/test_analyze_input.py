"""The entry point: bad input, binary data, unknown language, size limits, result shape."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from aadap.core.enums import Language, OperationClass, PlatformKind, RiskLevel
from aadap.core.exceptions import InvalidRequestError
from aadap.safety import MAX_CODE_CHARS, Finding, analyze, operation_class
from tests.safety._corpus import load_corpus


@pytest.mark.parametrize("code", ["", "   ", "\n\t\n"])
def test_empty_code_is_a_bad_request(code: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        analyze(code, language="sql")
    assert info.value.details == {"field": "code"}


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("sql", "-- only a comment\n"),
        ("python", "# only a comment\n"),
        ("scala", "// nothing\n/* here */"),
    ],
)
def test_code_without_statements_is_a_bad_request(language: str, code: str) -> None:
    with pytest.raises(InvalidRequestError, match="no statements"):
        analyze(code, language=language)


def test_comment_with_a_secret_is_still_reported() -> None:
    analysis = analyze("-- password = 'hunter22'\n", language="sql")
    assert analysis.has_secret


def test_unknown_platform_is_a_bad_request() -> None:
    with pytest.raises(InvalidRequestError) as info:
        analyze("SELECT 1", language="sql", platform="oracle")
    assert info.value.details == {"field": "platform"}
    assert "local, databricks, fabric" in info.value.message


def test_unknown_language_is_a_finding_that_needs_approval() -> None:
    analysis = analyze("print(1)", language="ruby")
    (finding,) = analysis.findings
    assert finding.rule == "language.unsupported"
    assert finding.severity is RiskLevel.MEDIUM
    assert finding.unverified
    assert analysis.language is None
    assert analysis.to_dict()["language"] == "ruby"


@pytest.mark.parametrize(
    "code", ["SELECT 1\x00\x01", "\ufffd\ufffd" * 20, "".join(chr(c) for c in range(1, 32)) * 5]
)
def test_binary_input_is_never_safe(code: str) -> None:
    analysis = analyze(code, language="sql")
    assert "input.binary" in analysis.rules()
    assert analysis.risk >= RiskLevel.HIGH
    assert analysis.unverified


def test_oversized_input_is_refused_quickly() -> None:
    code = "SELECT 1;\n" * (5_000_000 // 10)
    started = time.perf_counter()
    with pytest.raises(InvalidRequestError, match="limit"):
        analyze(code, language="sql")
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("sql", "a." * 100_000),
        ("sql", "SELECT " + "(" * 50_000 + "1"),
        ("python", "x = " + "(" * 50_000 + "1" + ")" * 50_000),
        ("python", "x = [" + ",".join(["1"] * 100_000) + "]"),
        ("scala", "val x = " + "a." * 100_000 + "b"),
        ("scala", '"' * 100_000),
    ],
)
def test_pathological_lines_finish_quickly(language: str, code: str) -> None:
    started = time.perf_counter()
    analyze(code, language=language)
    assert time.perf_counter() - started < 5


@pytest.mark.slow
def test_input_at_the_size_limit_is_analysed() -> None:
    line = "df = spark.table('sales.orders').filter(F.col('x') > 1).select('a', 'b')\n"
    code = line * ((MAX_CODE_CHARS - 1) // len(line))
    started = time.perf_counter()
    analysis = analyze(code, language="pyspark")
    assert analysis.lines == code.count("\n")
    assert time.perf_counter() - started < 30


def test_result_shape() -> None:
    analysis = analyze(
        "SELECT 1;\nDROP TABLE t;\n", language=Language.SQL, platform=PlatformKind.DATABRICKS
    )
    data = analysis.to_dict()
    assert data["operation_class"] == "destructive"
    assert data["risk"] == "CRITICAL"
    assert data["lines"] == 2
    assert data["statements"] == 2
    assert data["platform"] == "databricks"
    assert set(data["findings"][0]) >= {"rule", "severity", "line", "message", "fix_hint"}
    assert [f["rule"] for f in data["findings"]] == ["sql.multi_statement", "sql.drop"]


def test_operation_class_precedence() -> None:
    def f(op: OperationClass | None) -> Finding:
        return Finding("r", RiskLevel.LOW, 1, "m", "", op)

    assert operation_class([]) is OperationClass.READ_ONLY
    assert operation_class([f(None)]) is OperationClass.READ_ONLY
    order = [
        OperationClass.READ_ONLY,
        OperationClass.WRITE,
        OperationClass.SCHEMA_CHANGE,
        OperationClass.DESTRUCTIVE,
        OperationClass.PERMISSION_CHANGE,
    ]
    for index, expected in enumerate(order):
        assert operation_class([f(op) for op in order[: index + 1]]) is expected
        assert operation_class([f(op) for op in reversed(order[: index + 1])]) is expected


def test_findings_are_deduplicated_and_ordered() -> None:
    analysis = analyze(
        'import os\nos.system("a"); os.system("b")\nos.remove("x")', language="python"
    )
    assert [(f.rule, f.line) for f in analysis.findings] == [
        ("python.shell", 2),
        ("python.file_delete", 3),
    ]


def test_a_single_existing_table_name_is_not_split_into_characters() -> None:
    analysis = analyze(
        "CREATE OR REPLACE TABLE s.t AS SELECT 1", language="sql", existing_tables="s.t"
    )
    assert analysis.rules() == {"sql.create_or_replace_existing"}
    fresh = analyze(
        "CREATE OR REPLACE TABLE s.new AS SELECT 1", language="sql", existing_tables="s.t"
    )
    assert fresh.rules() == {"sql.create_or_replace"}


def test_parallel_analyses_agree_with_sequential_ones() -> None:
    """Each thread keeps its own sqlglot tokenizer and parser: no shared parsing state."""
    snippets = [s for s in load_corpus() if s.language == "sql"] * 3
    expected = [s.analyse().to_dict() for s in snippets]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda s: s.analyse().to_dict(), snippets))
    assert got == expected
