"""The labelled safety corpus (``corpus/*.toml``), shared by the tests and the benchmark.

Each snippet is labelled with the expected operation class and ``must_flag``: the
analysis must flag it, i.e. the SANDBOX decision is not ``auto`` or a finding is HIGH
or worse. ``existing_tables`` absent means "catalog unknown" (``None``);
``egress_allowed_hosts`` (optional) is the allow-list of network hosts for the snippet;
``class`` (optional, default: the file's name) groups snippets in the benchmark's report.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from aadap.core.config import SafetySettings
from aadap.core.enums import Environment, RiskLevel
from aadap.safety import Analysis, analyze, decide

CORPUS_DIR = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class Snippet:
    id: str
    language: str
    platform: str
    operation_class: str
    must_flag: bool
    code: str
    existing_tables: tuple[str, ...] | None
    expect_rules: frozenset[str]
    accepted_false_alarm: str | None
    source: str
    egress_allowed_hosts: tuple[str, ...] = ()
    category: str = ""

    def analyse(self) -> Analysis:
        return analyze(
            self.code,
            language=self.language,
            platform=self.platform,
            existing_tables=self.existing_tables,
            egress_allowed_hosts=self.egress_allowed_hosts,
        )


def load_corpus(directory: Path = CORPUS_DIR) -> list[Snippet]:
    snippets: list[Snippet] = []
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        for raw in data["snippet"]:
            existing = raw.get("existing_tables")
            snippets.append(
                Snippet(
                    id=raw["id"],
                    language=raw["language"],
                    platform=raw["platform"],
                    operation_class=raw["operation_class"],
                    must_flag=raw["must_flag"],
                    code=raw["code"],
                    existing_tables=None if existing is None else tuple(existing),
                    expect_rules=frozenset(raw.get("expect_rules", ())),
                    accepted_false_alarm=raw.get("accepted_false_alarm"),
                    source=path.name,
                    egress_allowed_hosts=tuple(raw.get("egress_allowed_hosts", ())),
                    category=raw.get("class", path.stem),
                )
            )
    return snippets


def flagged(analysis: Analysis, settings: SafetySettings) -> bool:
    """The corpus' notion of "flagged": not auto-approved in SANDBOX, or a HIGH+ finding."""
    decision = decide(analysis, Environment.SANDBOX, settings)
    return decision.decision != "auto" or analysis.risk >= RiskLevel.HIGH
