"""A lifecycle process starts without the heavy libraries most runs never need: each one
served run is a new process, and its imports are part of the wait for Running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "databricks.sdk",
    "azure.identity",
    "sqlglot",
    "duckdb",
    "genai_prices",  # only a paid model is priced from its snapshot
    "cryptography",  # only a configured AADAP_SECRET_KEY needs Fernet
    "sqlalchemy.dialects.postgresql",  # only a PostgreSQL engine needs the dialect
)


def test_importing_the_lifecycle_flow_loads_no_platform_sdk_parser_duckdb_or_unused_extra() -> None:
    probe = (
        "import json, sys, flows.task_lifecycle, flows.task_resume; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_lazy_names_still_resolve() -> None:
    import aadap.platforms as platforms

    assert platforms.LocalPlatform.__name__ == "LocalPlatform"
    assert platforms.DatabricksConfig.__name__ == "DatabricksConfig"
    assert platforms.FabricPlatform.__name__ == "FabricPlatform"
