"""Router, developer, reviewer and optimiser: their own checks on top of the shared loop."""

from __future__ import annotations

import json

import pytest

from aadap.agents import check_syntax, develop_code, optimise_code, review_code, route_work
from aadap.agents._prompt import load_prompt
from aadap.agents._prompt_inputs import read_feedback, read_model, read_syntax
from aadap.core.enums import Language, PlatformKind
from aadap.core.exceptions import AgentOutputInvalidError, LLMServerError
from aadap.llm.testing import ScriptedLLMClient
from tests.agents import payloads

BROKEN_SQL = "CREATE TABLE orders AS SELECT FROM WHERE"


# --- router -------------------------------------------------------------------


async def test_local_platform_routes_to_sql_without_an_llm_call() -> None:
    client = ScriptedLLMClient([])
    requirement = payloads.requirement(language="python")

    route = await route_work(client, payloads.ctx(), requirement, payloads.plan())

    assert (route.developer, route.language) == ("sql", Language.SQL)
    assert "python" in route.reason
    assert client.requests == []


@pytest.mark.parametrize("platform", [PlatformKind.DATABRICKS, PlatformKind.FABRIC])
async def test_reads_route_to_sql_on_every_platform(platform: PlatformKind) -> None:
    client = ScriptedLLMClient([])
    requirement = payloads.requirement(intent="preview", target_table=None, limit=5)

    route = await route_work(client, payloads.ctx(platform=platform), requirement, payloads.plan())

    assert route.language is Language.SQL
    assert client.requests == []


async def test_unclear_remote_work_asks_the_llm_and_checks_the_language() -> None:
    wrong_pairing = json.dumps({"developer": "sql", "language": "pyspark", "reason": "spark"})
    good = json.dumps({"developer": "pyspark", "language": "pyspark", "reason": "big join"})
    client = ScriptedLLMClient([wrong_pairing, good])
    ctx = payloads.ctx(platform=PlatformKind.DATABRICKS)
    requirement = payloads.requirement(intent="transform")

    route = await route_work(client, ctx, requirement, payloads.plan())

    assert (route.developer, route.language) == ("pyspark", Language.PYSPARK)
    assert len(client.requests) == 2
    values = load_prompt("router").read_user(client.requests[0].messages[1].content)
    assert values is not None
    assert read_model(values["plan"]) == payloads.plan().model_dump(mode="json")
    assert "the 'sql' developer writes sql, not pyspark" in client.requests[1].messages[1].content


# --- developer ----------------------------------------------------------------


async def test_developer_returns_code_and_sends_route_and_feedback() -> None:
    client = ScriptedLLMClient([payloads.code_json()])
    ctx = payloads.ctx(feedback=["line 1: syntax error"])

    code = await develop_code(
        client, ctx, payloads.requirement(), payloads.plan(), payloads.route()
    )

    assert code.target_tables == ["orders"]
    request = client.requests[0]
    assert request.agent == "developer"
    values = load_prompt("developer").read_user(request.messages[1].content)
    assert values is not None
    assert read_model(values["route"])["language"] == "sql"
    assert read_feedback(values["feedback"]) == ["line 1: syntax error"]
    assert "line 1: syntax error" in request.messages[1].content


async def test_developer_code_in_the_wrong_language_is_corrected() -> None:
    python = payloads.code_json("print('hi')", language="python")
    client = ScriptedLLMClient([python, python, payloads.code_json()])

    code = await develop_code(
        client, payloads.ctx(), payloads.requirement(), payloads.plan(), payloads.route()
    )

    assert code.language is Language.SQL
    assert "the route asks for sql code, not python" in client.requests[2].messages[1].content


async def test_pyspark_route_accepts_python_code() -> None:
    client = ScriptedLLMClient([payloads.code_json("df = spark.range(3)", language="python")])
    route = payloads.route(Language.PYSPARK, "pyspark")

    code = await develop_code(
        client, payloads.ctx(), payloads.requirement(), payloads.plan(), route
    )

    assert code.language is Language.PYTHON


# --- reviewer -----------------------------------------------------------------


async def test_llm_cannot_pass_code_with_a_syntax_error() -> None:
    client = ScriptedLLMClient([payloads.review_json(passed=True)])

    review = await review_code(
        client, payloads.ctx(), payloads.requirement(), payloads.code(BROKEN_SQL)
    )

    assert review.passed is False
    syntax = [f for f in review.findings if f.source == "syntax"]
    assert syntax
    assert syntax[0].severity == "error"
    assert syntax[0].line == 1
    values = load_prompt("reviewer").read_user(client.requests[0].messages[1].content)
    assert values is not None
    assert read_syntax(values["syntax"]) == [
        issue.message for issue in check_syntax(BROKEN_SQL, Language.SQL, PlatformKind.LOCAL).issues
    ]
    assert read_syntax(values["syntax"])  # the model is told what the syntax check found
    assert review.summary.startswith("Syntax check failed")


async def test_python_syntax_error_fails_the_review() -> None:
    client = ScriptedLLMClient([payloads.review_json(passed=True)])
    code = payloads.code("def f(:\n    pass", Language.PYTHON)

    review = await review_code(client, payloads.ctx(), payloads.requirement(), code)

    assert review.passed is False
    assert review.findings[0].source == "syntax"


async def test_an_llm_error_finding_fails_even_when_the_llm_says_passed() -> None:
    finding = {"severity": "critical", "message": "drops a table", "line": 2}
    client = ScriptedLLMClient([payloads.review_json(passed=True, findings=[finding])])

    review = await review_code(
        client, payloads.ctx(), payloads.requirement(), payloads.code("SELECT 1")
    )

    assert review.passed is False
    assert [(f.source, f.severity, f.line) for f in review.findings] == [("llm", "critical", 2)]
    assert review.blocking == review.findings


async def test_valid_code_passes_with_warnings() -> None:
    finding = {"severity": "warning", "message": "no LIMIT"}
    client = ScriptedLLMClient([payloads.review_json(passed=True, findings=[finding])])

    review = await review_code(
        client, payloads.ctx(), payloads.requirement(), payloads.code("SELECT * FROM t")
    )

    assert review.passed is True
    assert review.findings[0].source == "llm"


async def test_llm_rejection_of_parsing_code_is_kept() -> None:
    client = ScriptedLLMClient([payloads.review_json(passed=False)])

    review = await review_code(
        client, payloads.ctx(), payloads.requirement(), payloads.code("SELECT 1")
    )

    assert review.passed is False


async def test_reviewer_llm_errors_propagate() -> None:
    client = ScriptedLLMClient([LLMServerError("502")])

    with pytest.raises(LLMServerError):
        await review_code(client, payloads.ctx(), payloads.requirement(), payloads.code())


async def test_reviewer_invalid_output_three_times_raises() -> None:
    client = ScriptedLLMClient(['{"passed": "maybe"}'] * 3)

    with pytest.raises(AgentOutputInvalidError) as caught:
        await review_code(client, payloads.ctx(), payloads.requirement(), payloads.code())

    assert caught.value.details["agent"] == "reviewer"
    assert caught.value.details["attempts"] == 3


# --- optimiser ----------------------------------------------------------------


async def test_broken_optimised_code_is_discarded() -> None:
    client = ScriptedLLMClient([payloads.optimisation_json(BROKEN_SQL)])
    original = payloads.code("SELECT a FROM t")

    result = await optimise_code(client, payloads.ctx(), payloads.plan(), original)

    assert result.code == original.code
    assert result.changed is False
    assert result.changes == []
    assert result.reverted_reason is not None
    assert "syntax" in result.reverted_reason


async def test_valid_optimised_code_is_taken() -> None:
    client = ScriptedLLMClient([payloads.optimisation_json("SELECT a FROM t WHERE a > 1")])

    result = await optimise_code(
        client, payloads.ctx(), payloads.plan(), payloads.code("SELECT a FROM t WHERE 1 < a")
    )

    assert result.changed is True
    assert result.code == "SELECT a FROM t WHERE a > 1"
    assert result.changes[0].rationale == "less I/O"
    assert result.reverted_reason is None


async def test_identical_optimised_code_is_unchanged() -> None:
    client = ScriptedLLMClient([payloads.optimisation_json("SELECT 1\n")])

    result = await optimise_code(client, payloads.ctx(), payloads.plan(), payloads.code())

    assert result.changed is False
    assert result.changes == []


async def test_optimisation_is_skipped_when_the_plan_says_so() -> None:
    client = ScriptedLLMClient([])

    result = await optimise_code(
        client, payloads.ctx(), payloads.plan(optimise=False), payloads.code()
    )

    assert (result.changed, result.code) == (False, "SELECT 1")
    assert client.requests == []
