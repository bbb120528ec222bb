"""One local DuckDB file, several processes: they take turns; a holder outside AADAP, or
one that keeps the file past the bounded wait, is a retryable PLATFORM_BUSY."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from aadap.core.config import PlatformSettings
from aadap.core.enums import Language
from aadap.core.exceptions import PlatformBusyError, is_retryable
from aadap.platforms import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]

HOLD_DUCKDB = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
"""

INSERT_IN_CHILD = """
import asyncio, sys
from pathlib import Path
from aadap.core.config import PlatformSettings
from aadap.core.enums import Language
from aadap.platforms import LocalPlatform

async def main() -> None:
    platform = LocalPlatform(Path(sys.argv[1]), Path(sys.argv[2]), PlatformSettings())
    for i in range(5):
        await platform.run(
            f"CREATE TABLE IF NOT EXISTS hits (who TEXT, n INT); INSERT INTO hits VALUES ('{sys.argv[3]}', {i});",
            language=Language.SQL, name="hit",
        )

asyncio.run(main())
"""


def hold_duckdb(database: Path) -> subprocess.Popen[str]:
    """A process outside AADAP with the DuckDB file open until it reads a line."""
    return subprocess.Popen(
        [sys.executable, "-c", HOLD_DUCKDB, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_a_duckdb_holder_outside_aadap_is_a_retryable_busy_error(
    tmp_path: Path, settings: PlatformSettings
) -> None:
    database = tmp_path / "local.duckdb"
    holder = hold_duckdb(database)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        local = LocalPlatform(database, tmp_path / "runs", settings)
        with pytest.raises(PlatformBusyError) as caught:
            await local.run("SELECT 1", language=Language.SQL, name="busy")
        assert is_retryable(caught.value)
        assert caught.value.error_code == "PLATFORM_BUSY"
    finally:
        holder.communicate("done\n", timeout=30)
    result = await local.run("SELECT 1 AS ok", language=Language.SQL, name="free")
    assert result.rows == [{"ok": 1}]


def test_processes_writing_one_file_take_turns_and_lose_nothing(tmp_path: Path) -> None:
    database = tmp_path / "local.duckdb"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", INSERT_IN_CHILD, str(database), str(tmp_path / "runs"), f"p{i}"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0] * 4, errors
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT who) FROM hits").fetchone() == (20, 4)
