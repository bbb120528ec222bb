"""Every corpus snippet gets its labelled operation class and flag; recall is 100 %."""

from __future__ import annotations

from collections import Counter

import pytest

from aadap.core.config import SafetySettings
from tests.safety._corpus import Snippet, flagged, load_corpus

CORPUS = load_corpus()
MAX_FALSE_ALARM_RATE = 0.05


@pytest.fixture(scope="module")
def settings() -> SafetySettings:
    return SafetySettings(_env_file=None)


def test_corpus_is_large_and_covers_every_language() -> None:
    by_language = Counter(s.language for s in CORPUS)
    assert len(CORPUS) >= 80
    assert len({s.id for s in CORPUS}) == len(CORPUS), "snippet ids must be unique"
    assert by_language["sql"] >= 20
    assert by_language["python"] >= 10
    assert by_language["pyspark"] >= 10
    assert by_language["scala"] >= 10
    assert {s.platform for s in CORPUS if s.language == "sql"} == {"local", "databricks", "fabric"}
    safe = [s for s in CORPUS if not s.must_flag]
    assert len(safe) >= 30, "false alarms are only measured on safe code"


def test_indirection_egress_and_side_door_classes_are_covered() -> None:
    mine = [s for s in CORPUS if s.source in {"indirection.toml", "egress.toml"}]
    assert len(mine) >= 60
    assert sum(not s.must_flag for s in mine) >= 20, "look-alikes keep false alarms measured"
    classes = {s.category for s in mine}
    assert {"dynamic_dispatch", "folded_strings", "egress", "side_doors"} <= classes
    assert {"secrets_after_folding", "secret_files", "exfiltration", "bad_input"} <= classes


@pytest.mark.parametrize("snippet", CORPUS, ids=[s.id for s in CORPUS])
def test_snippet_matches_its_label(snippet: Snippet, settings: SafetySettings) -> None:
    analysis = snippet.analyse()
    rules = analysis.rules()
    assert analysis.operation_class.value == snippet.operation_class, rules
    assert snippet.expect_rules <= rules, (
        f"missing {sorted(snippet.expect_rules - rules)}; got {sorted(rules)}"
    )
    is_flagged = flagged(analysis, settings)
    if snippet.must_flag:
        assert is_flagged, f"missed: {sorted(rules)}"
    elif snippet.accepted_false_alarm is None:
        assert not is_flagged, f"false alarm: {[f.to_dict() for f in analysis.findings]}"


def test_recall_and_false_alarm_rate(settings: SafetySettings) -> None:
    must = [s for s in CORPUS if s.must_flag]
    safe = [s for s in CORPUS if not s.must_flag]
    missed = [s.id for s in must if not flagged(s.analyse(), settings)]
    alarms = [s.id for s in safe if flagged(s.analyse(), settings)]
    assert missed == []
    assert len(alarms) / len(safe) <= MAX_FALSE_ALARM_RATE, alarms
    undocumented = [s.id for s in safe if s.id in alarms and s.accepted_false_alarm is None]
    assert undocumented == []
