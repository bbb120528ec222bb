"""The paraphrase corpus: what is understood is right, and almost everything is understood.

Each request runs through every agent with the offline provider; the SQL runs on DuckDB
over the corpus's own data and is compared with values computed in plain Python
(``tests/agents/offline/paraphrases/reference.py``), never with SQL text.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.agents.offline.paraphrases.corpus import KINDS, Case, cases
from tests.agents.offline.paraphrases.reference import Refused
from tests.agents.offline.paraphrases.runner import judge

CASES = cases()


def test_the_corpus_covers_every_kind_over_two_datasets() -> None:
    kinds = Counter(case.kind for case in CASES)
    assert len(CASES) >= 150
    assert all(kinds[kind] >= 10 for kind in KINDS if kind != "ambiguous")
    texts = " ".join(case.text for case in CASES)
    assert all(name in texts for name in ("clients", "purchases", "books", "loans"))


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.kind}:{case.text[:60]}")
async def test_an_understood_request_gives_the_right_result(case: Case) -> None:
    verdict = await judge(case)

    if isinstance(case.expect, Refused):
        assert not verdict.understood, verdict.detail  # ambiguous: refused, never guessed
    assert verdict.correct or not verdict.understood, verdict.detail


async def test_at_least_95_percent_of_the_corpus_is_understood() -> None:
    plain = [case for case in CASES if not isinstance(case.expect, Refused)]
    verdicts = [await judge(case) for case in plain]

    refused = [v.case.text for v in verdicts if not v.understood]
    assert len(refused) <= 0.05 * len(plain), refused
