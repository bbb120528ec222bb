"""Benchmark of the safety analysis on the labelled corpus (``tests/safety/corpus``).

Prints recall on must-flag snippets, the false-alarm rate on safe snippets, and
throughput in lines analysed per second: the corpus is analysed repeatedly for at
least ``--seconds`` per round, over ``--rounds`` rounds; the best round is the figure
(as ``timeit`` does: other load on the machine only ever slows a round down).

    python benchmarks/safety.py [--seconds 2] [--rounds 3]

Exit status 1 when a target is missed: recall 100 %, false alarms <= 5 %,
>= 20,000 lines/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aadap.core.config import SafetySettings
from tests.safety._corpus import Snippet, flagged, load_corpus

TARGET_RECALL = 1.0
TARGET_FALSE_ALARMS = 0.05
TARGET_LINES_PER_SECOND = 20_000


def _quality(
    corpus: list[Snippet], settings: SafetySettings
) -> tuple[float, float, list[str], list[str]]:
    must = [s for s in corpus if s.must_flag]
    safe = [s for s in corpus if not s.must_flag]
    missed = [s.id for s in must if not flagged(s.analyse(), settings)]
    alarms = [s.id for s in safe if flagged(s.analyse(), settings)]
    recall = 1 - len(missed) / len(must) if must else 1.0
    false_alarms = len(alarms) / len(safe) if safe else 0.0
    return recall, false_alarms, missed, alarms


def _round(corpus: list[Snippet], seconds: float) -> tuple[float, int]:
    lines = passes = 0
    start = time.perf_counter()
    while True:
        for snippet in corpus:
            lines += snippet.analyse().lines
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return lines / elapsed, passes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum duration of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one is reported")
    args = parser.parse_args(argv)

    corpus = load_corpus()
    settings = SafetySettings(_env_file=None)
    by_language = Counter(s.language for s in corpus)
    print(
        f"corpus: {len(corpus)} snippets "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_language.items()))
    )
    print(
        f"        {sum(s.must_flag for s in corpus)} must flag, "
        f"{sum(not s.must_flag for s in corpus)} safe"
    )

    recall, false_alarms, missed, alarms = _quality(corpus, settings)
    print(f"recall on must-flag snippets: {recall:.1%} (target {TARGET_RECALL:.0%})")
    for snippet_id in missed:
        print(f"  missed: {snippet_id}")
    print(
        f"false-alarm rate on safe snippets: {false_alarms:.1%} "
        f"(target <= {TARGET_FALSE_ALARMS:.0%})"
    )
    for snippet_id in alarms:
        print(f"  false alarm: {snippet_id}")

    results = [_round(corpus, args.seconds) for _ in range(max(1, args.rounds))]
    rates = [rate for rate, _ in results]
    best = max(rates)
    lines_per_pass = sum(s.analyse().lines for s in corpus)
    print(
        f"throughput: {best:,.0f} lines/s best of {len(rates)} rounds "
        f"(median {statistics.median(rates):,.0f}; {lines_per_pass} lines per pass, "
        f"{sum(p for _, p in results)} passes) (target >= {TARGET_LINES_PER_SECOND:,})"
    )

    failed = []
    if recall < TARGET_RECALL:
        failed.append("recall")
    if false_alarms > TARGET_FALSE_ALARMS:
        failed.append("false alarms")
    if best < TARGET_LINES_PER_SECOND:
        failed.append("throughput")
    print("result: " + ("all targets met" if not failed else "MISSED " + ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
