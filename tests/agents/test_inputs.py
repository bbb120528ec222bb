"""The prompt is the only channel to a model: every rendered input reads back exactly.

The offline rules (aadap/agents/offline) read their facts from the prompt, so a rendering
that loses information would change what they answer.
"""

from __future__ import annotations

import pytest

from aadap.agents import AgentContext, check_syntax
from aadap.agents._prompt import correction_section, load_prompt
from aadap.agents._prompt_inputs import (
    read_feedback,
    read_hints,
    read_syntax,
    render_feedback,
    render_hints,
    render_syntax,
)
from aadap.core.enums import Language, PlatformKind


@pytest.mark.parametrize(
    "hints",
    [
        {},
        {"orders": ["order_id", "amount"]},
        {"zeta": ["a"], "alpha": [], "analytics.daily": ["day", "total revenue"]},
    ],
)
def test_schema_hints_read_back_in_the_callers_order(hints: dict[str, list[str]]) -> None:
    rendered = render_hints(AgentContext(request_text="x", schema_hints=hints))

    assert read_hints(rendered) == hints
    assert list(read_hints(rendered)) == list(hints)


@pytest.mark.parametrize(
    "feedback",
    [
        [],
        ["one"],
        ["error (line 1): Invalid expression\n  SELECT FROM\n  - here", "- dashed", "(none)x"],
    ],
)
def test_feedback_reads_back_exactly_even_over_several_lines(feedback: list[str]) -> None:
    rendered = render_feedback(AgentContext(request_text="x", feedback=feedback))

    assert read_feedback(rendered) == feedback


def test_syntax_result_reads_back_and_says_when_no_check_ran() -> None:
    broken = check_syntax("SELECT FROM WHERE", Language.SQL, PlatformKind.LOCAL)
    unchecked = check_syntax("val x = 1", Language.SCALA, PlatformKind.DATABRICKS)

    assert read_syntax(render_syntax(broken)) == [issue.message for issue in broken.issues]
    assert broken.issues
    assert (
        read_syntax(render_syntax(check_syntax("SELECT 1", Language.SQL, PlatformKind.LOCAL))) == []
    )
    assert not unchecked.checked
    assert render_syntax(unchecked).startswith("not run")
    assert read_syntax(render_syntax(unchecked)) == []


def test_task_values_read_back_from_the_prompt_even_after_a_correction() -> None:
    template = load_prompt("parser")
    values = {
        "request_text": "load a.csv\n\nTarget platform: fake (environment X)\nthen dedupe",
        "platform": "local",
        "environment": "SANDBOX",
        "working_dir": "/data",
        "schema_hints": "(none known)",
        "feedback": "(none)",
    }
    user = template.user(values)

    assert template.read_user(user) == values
    assert template.read_user(f"{user}\n\n{correction_section(['bad'], '{}')}") == values
    assert template.read_user("TASK\nsomething else") is None
