"""The cross-process file lock: another process waits, then times out or gets it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aadap.core import locks

TRY_IN_CHILD = """
import sys, time
from pathlib import Path
from aadap.core import locks
started = time.monotonic()
try:
    with locks.hold(Path(sys.argv[1]), wait=float(sys.argv[2])):
        print("acquired", round(time.monotonic() - started, 2))
except TimeoutError:
    print("timed out", round(time.monotonic() - started, 2))
"""


def child(target: Path, wait: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", TRY_IN_CHILD, str(target), str(wait)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_another_process_waits_a_bounded_time_then_gets_the_lock(tmp_path: Path) -> None:
    target = tmp_path / "home" / "local.duckdb"
    with locks.hold(target, wait=1):
        assert locks.lock_path(target).is_file()
        refused = child(target, 0.3)
        out, _ = refused.communicate(timeout=60)
        assert out.startswith("timed out")
        waiting = child(target, 60)
        time.sleep(0.5)  # it is waiting now
    out, _ = waiting.communicate(timeout=60)
    assert out.startswith("acquired")


def test_two_threads_of_one_process_exclude_each_other(tmp_path: Path) -> None:
    target = tmp_path / "x.db"
    inside: list[int] = []
    overlaps: list[int] = []

    def work() -> None:
        for _ in range(20):
            with locks.hold(target, wait=30):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                time.sleep(0.001)
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


async def test_the_async_wait_times_out_without_blocking_the_loop(tmp_path: Path) -> None:
    target = tmp_path / "aadap.db"
    with locks.hold(target, wait=1):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with locks.hold_async(target, wait=0.2):
                pass
        assert 0.2 <= time.monotonic() - started < 5
    async with locks.hold_async(target, wait=0.2):
        pass
