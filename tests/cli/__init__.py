"""Tests of the installed ``aadap`` command, run as a subprocess with an isolated home.

:func:`aadap` is the one way these tests call the CLI: a clean environment (no
``AADAP_*`` or ``PREFECT_*`` variable from the test process leaks in), its own
``AADAP_HOME`` and ``PREFECT_HOME``, and a bounded wait.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AADAP = Path(sys.executable).parent / "aadap"


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AADAP_", "PREFECT_"))}
    env.update(
        {
            "AADAP_HOME": str(home / "aadap"),
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # Prefect's per-command API: a test leaves no server behind (tests/cli/test_server.py
            # covers the background server, the default)
            "AADAP_PREFECT_SERVER": "ephemeral",
            "COLUMNS": "200",
        }
    )
    env.update(extra)
    return env


def aadap(
    *args: str, home: Path, timeout: float = 60, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``aadap ARGS`` and return its exit code and output (never raises on failure)."""
    return subprocess.run(
        [str(AADAP), *args],
        env=cli_env(home, **env),
        cwd=cwd or home,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
