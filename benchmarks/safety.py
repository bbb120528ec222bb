"""Benchmark of the safety analysis on the labelled corpus (``tests/safety/corpus``).

Prints recall on must-flag snippets and the false-alarm rate on safe snippets, overall
and per class (the snippet's ``class``, else its file: ``dynamic_dispatch``,
``egress``, ``side_doors``, ``sql``...), and throughput in lines analysed per second:
the corpus is analysed repeatedly for at least ``--seconds`` per round, over
``--rounds`` rounds; the best round is the figure (as ``timeit`` does: other load on
the machine only ever slows a round down). The target is wall-clock time on an idle
machine, as a user waits for it; the CPU time of this process is printed too, with the
load average, because on a busy shared machine only the CPU figure is comparable
between runs (say so when you quote it).

    python benchmarks/safety.py [--seconds 2] [--rounds 3] [--files sql,python]

Exit status 1 when a target is missed: recall 100 %, false alarms <= 5 %,
>= 50,000 lines/s (wall time).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aadap.core.config import SafetySettings
from aadap.core.enums import PlatformKind
from aadap.safety.sql.script import parse_script, sql_dialects
from tests.safety._corpus import Snippet, flagged, load_corpus

TARGET_RECALL = 1.0
TARGET_FALSE_ALARMS = 0.05
TARGET_LINES_PER_SECOND = 50_000


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


def _per_class(corpus: list[Snippet], settings: SafetySettings) -> None:
    print("per class:                 must  recall   safe  false alarms")
    for name in sorted({s.category for s in corpus}):
        members = [s for s in corpus if s.category == name]
        recall, false_alarms, _, _ = _quality(members, settings)
        must = sum(s.must_flag for s in members)
        safe = len(members) - must
        shown_recall = f"{recall:6.1%}" if must else "     -"
        shown_alarms = f"{false_alarms:6.1%}" if safe else "     -"
        print(f"  {name:<24}{must:5}  {shown_recall}  {safe:5}  {shown_alarms}")


def _parse_only(snippet: Snippet) -> None:
    """The floor under the analysis of ``snippet``: its parser alone (Python's for Python and
    PySpark, sqlglot in the platform's dialects for SQL; Scala has no parser, only the
    analysis's own lexing, so it costs nothing here)."""
    if snippet.language in ("python", "pyspark"):
        with contextlib.suppress(SyntaxError):
            ast.parse(snippet.code)
    elif snippet.language == "sql":
        parse_script(snippet.code, sql_dialects(PlatformKind(snippet.platform)))


def _parsing(corpus: list[Snippet], lines_per_pass: int, seconds: float) -> float:
    """Lines per second of CPU time with :func:`_parse_only`, over at least ``seconds``."""
    passes, cpu_start = 0, time.process_time()
    while (cpu := time.process_time() - cpu_start) < seconds:
        for snippet in corpus:
            _parse_only(snippet)
        passes += 1
    return lines_per_pass * passes / max(cpu, 1e-9)


def _round(corpus: list[Snippet], seconds: float) -> tuple[float, float, int]:
    lines = passes = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while True:
        for snippet in corpus:
            lines += snippet.analyse().lines
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            cpu = max(time.process_time() - cpu_start, 1e-9)
            return lines / elapsed, lines / cpu, passes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum duration of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one is reported")
    parser.add_argument(
        "--files", default="", help="comma-separated corpus files (stems) to use; default all"
    )
    args = parser.parse_args(argv)

    corpus = load_corpus()
    if args.files:
        wanted = {f"{name.strip()}.toml" for name in args.files.split(",")}
        corpus = [s for s in corpus if s.source in wanted]
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
    _per_class(corpus, settings)

    load_before = os.getloadavg()[0]
    results = [_round(corpus, args.seconds) for _ in range(max(1, args.rounds))]
    load_after = os.getloadavg()[0]
    rates = [rate for rate, _, _ in results]
    cpu_rates = [rate for _, rate, _ in results]
    best, best_cpu = max(rates), max(cpu_rates)
    lines_per_pass = sum(s.analyse().lines for s in corpus)
    print(
        f"throughput: {best:,.0f} lines/s wall, {best_cpu:,.0f} lines/s CPU, best of "
        f"{len(rates)} rounds (median wall {statistics.median(rates):,.0f}; {lines_per_pass} "
        f"lines per pass, {sum(p for _, _, p in results)} passes) "
        f"(target >= {TARGET_LINES_PER_SECOND:,} wall)"
    )
    parsing = max(
        _parsing(corpus, lines_per_pass, args.seconds) for _ in range(max(1, args.rounds))
    )
    print(
        f"floor: parsing alone {parsing:,.0f} lines/s CPU (best of {max(1, args.rounds)}); "
        f"the whole analysis takes {parsing / best_cpu:.1f}x the time of parsing alone; "
        f"the target allows {parsing / TARGET_LINES_PER_SECOND:.1f}x"
    )
    cores = os.cpu_count() or 1
    busy = max(load_before, load_after) > 0.5 * cores
    print(
        f"load average {load_before:.2f} before, {load_after:.2f} after, {cores} cores"
        + ("; the machine is busy: compare the CPU figure, not the wall one" if busy else "")
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
