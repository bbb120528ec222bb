"""How much of the paraphrase corpus the offline provider understands, and gets right.

    python benchmarks/offline_coverage.py [--refusals] [--wrong]

Every request of ``tests/agents/offline/paraphrases`` runs through all the agents with the
offline provider; the SQL runs on DuckDB over the corpus's own CSV files and its result
is compared with values computed in plain Python. Printed per operation kind: the share
understood, the share correct among those understood, and the refusals. ``ambiguous``
requests must be refused (naming the candidates): for them, "correct" counts refusals.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agents.offline.paraphrases.corpus import KINDS, cases
from tests.agents.offline.paraphrases.runner import Verdict, judge


async def _run() -> list[Verdict]:
    return [await judge(case) for case in cases()]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    -  "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refusals", action="store_true", help="print every refusal")
    parser.add_argument("--wrong", action="store_true", help="print every wrong result")
    args = parser.parse_args()
    started = time.perf_counter()
    verdicts = asyncio.run(_run())
    elapsed = time.perf_counter() - started
    by_kind: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in verdicts:
        by_kind[verdict.case.kind].append(verdict)
    print(f"{'kind':<12} {'cases':>5} {'understood':>11} {'correct':>9} {'refused':>8}")
    for kind in KINDS:
        group = by_kind[kind]
        understood = [v for v in group if v.understood]
        if kind == "ambiguous":
            right = sum(v.correct for v in group)
            print(f"{kind:<12} {len(group):>5} {'(refuse)':>11} {_share(right, len(group)):>9}"
                  f" {len(group) - len(understood):>8}")  # fmt: skip
            continue
        right = sum(v.correct for v in understood)
        print(f"{kind:<12} {len(group):>5} {_share(len(understood), len(group)):>11}"
              f" {_share(right, len(understood)):>9} {len(group) - len(understood):>8}")  # fmt: skip
    plain = [v for v in verdicts if v.case.kind != "ambiguous"]
    understood = [v for v in plain if v.understood]
    print(
        f"{'all':<12} {len(plain):>5} {_share(len(understood), len(plain)):>11}"
        f" {_share(sum(v.correct for v in understood), len(understood)):>9}"
        f" {len(plain) - len(understood):>8}"
    )
    slowest = max(verdicts, key=lambda v: v.seconds)
    print(f"{len(verdicts)} requests in {elapsed:.1f} s (slowest {slowest.seconds * 1000:.0f} ms)")
    for verdict in verdicts:
        refused = not verdict.understood and verdict.case.kind != "ambiguous"
        wrong = not verdict.correct and (verdict.understood or verdict.case.kind == "ambiguous")
        if (args.refusals and refused) or (args.wrong and wrong):
            print(f"\n[{verdict.case.kind}] {verdict.case.text}\n  {verdict.detail}")


if __name__ == "__main__":
    main()
