"""The operator's console in a real browser: ``benchmarks/ui_check.py`` run as a person
would run it, against a real ``prefect server`` (UI on, PostgreSQL) and ``aadap serve``,
with Debian's headless Chromium driven by Playwright. Every check it prints must hold
and every screenshot it names must exist.

Needs ``chromium`` (``apt-get install -y chromium``; or ``AADAP_TEST_CHROMIUM`` naming
the executable) and ``playwright`` (the ``dev`` extra). Missing, the test is skipped on a
developer's machine and fails under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: what the check must report as holding, one line each
CHECKS = [
    "the runs list shows the run named",
    "the Logs tab shows the transitions",
    "the Logs tab shows each LLM call's cost",
    "the run form says a blank request is refused",
    "and no run was created",
    "the approval form shows the request text",
    "the approval form shows who asked",
    "the approval form shows the target, that it exists and its rows",
    "the approval form refuses a missing decision",
    "the report records the decision",
    "the report artifact fits 1440 px",
    "the costs artifact fits 1440 px",
    "the cost report explains its date range",
    "the cost-report-costs artifact fits 1440 px",
]


def _chromium() -> str:
    exe = os.environ.get("AADAP_TEST_CHROMIUM") or shutil.which("chromium")
    missing = []
    if not exe:
        missing.append("chromium (apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright (pip install -e '.[dev]')")
    if missing:
        reason = "the browser check needs " + " and ".join(missing)
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    assert exe is not None
    return exe


def test_the_prefect_ui_shows_named_runs_their_story_and_forms_that_refuse_blanks(
    tmp_path: Path,
) -> None:
    exe = _chromium()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONPATH"] = str(ROOT)
    shots = tmp_path / "shots"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ui_check.py"), "--out", str(shots), "--chromium", exe],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=540, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    held = [line for line in done.stdout.splitlines() if line.startswith("ok  ")]
    for check in CHECKS:
        assert any(line.startswith(f"ok  {check}") for line in held), (check, output[-4000:])
    for name in ["runs", "run-log", "run-form-blank", "approval-form", "approval-targets",
                 "report", "costs", "cost-report-report", "cost-report-costs"]:  # fmt: skip
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
