"""The local engine's runtime sandbox, attacked directly: evasive snippets go straight to
the platform (no safety analysis on the way, on purpose) and must be refused by the
sandbox itself. Real DuckDB files, real subprocesses, a real loopback listener."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aadap.core.config import PlatformSettings
from aadap.core.enums import ExecutionStatus, Language
from aadap.core.exceptions import DeploymentFailedError, PlatformTimeoutError
from aadap.platforms import LocalPlatform


class Listener:
    """A TCP listener on loopback that records every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, address = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted.append(address)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the workspace, writable by this process."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


@pytest.fixture
async def local(tmp_path: Path, settings: PlatformSettings) -> AsyncIterator[LocalPlatform]:
    async with LocalPlatform(tmp_path / "db" / "local.duckdb", tmp_path / "runs", settings) as p:
        yield p


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def sql_error(local: LocalPlatform, code: str) -> str:
    with pytest.raises(DeploymentFailedError) as caught:
        await local.run(code, language=Language.SQL, name="evasive")
    return str(caught.value.details["platform_message"])


# --- SQL ------------------------------------------------------------------------


async def test_copy_export_and_attach_outside_the_workspace_are_refused(
    local: LocalPlatform, outside: Path, tmp_path: Path
) -> None:
    await local.run("CREATE TABLE t AS SELECT 42 AS x", language=Language.SQL, name="setup")
    folder = str(outside)
    for code in (
        f"COPY t TO '{folder}/out.csv'",
        f"COPY t TO '{tmp_path}/runs/../outside/dotdot.csv'",
        f"EXPORT DATABASE '{folder}/export'",
        f"ATTACH '{folder}/other.duckdb' AS other",
        f"COPY (SELECT 1) TO '{folder}/out.parquet' (FORMAT parquet)",
    ):
        assert "Permission Error" in await sql_error(local, code), code
    assert names(outside) == []
    # an existing file is not writable for being named, even where the script reads it
    victim = tmp_path / "victim.csv"
    victim.write_text("keep\n1\n")
    for code in (
        f"COPY t TO '{victim}'",
        f"SELECT * FROM '{victim}'; COPY t TO '{victim}'",
        f"CREATE TABLE v AS SELECT * FROM '{victim}'; COPY v TO '{victim}' (HEADER false)",
    ):
        assert "Permission Error" in await sql_error(local, code), code
    assert victim.read_text() == "keep\n1\n"

    # a write inside the workspace stays a normal write
    done = await local.run(
        f"COPY t TO '{tmp_path}/runs/t.csv'", language=Language.SQL, name="inside"
    )
    assert done.status is ExecutionStatus.SUCCESS
    assert (tmp_path / "runs" / "t.csv").read_text().splitlines() == ["x", "42"]


async def test_files_and_urls_the_script_does_not_name_are_unreadable(
    local: LocalPlatform, listener: Listener, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t")
    named = tmp_path / "named.csv"
    named.write_text("a\n1\n")
    # a path computed at run time is not a literal the sandbox lets through
    half = len(str(secret)) // 2
    computed = f"SELECT * FROM read_text('{str(secret)[:half]}' || '{str(secret)[half:]}')"
    assert "Permission Error" in await sql_error(local, computed)
    assert "Permission Error" in await sql_error(local, "SELECT * FROM read_text('/etc/hostname')")
    assert "Permission Error" in await sql_error(local, "SELECT * FROM glob('/etc/*')")
    remote = f"SELECT * FROM read_csv('http://127.0.0.1:{listener.port}/x.csv')"
    assert "Permission Error" in await sql_error(local, remote)
    assert listener.accepted == []

    # the file the approved script names literally is readable
    result = await local.run(
        f"SELECT * FROM read_csv_auto('{named}')", language=Language.SQL, name="named"
    )
    assert result.rows == [{"a": 1}]


async def test_data_roots_limit_even_the_named_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.csv").write_text("a\n1\n")
    (tmp_path / "elsewhere.csv").write_text("a\n2\n")
    settings = PlatformSettings(local_data_roots=[data])
    async with LocalPlatform(tmp_path / "db" / "l.duckdb", tmp_path / "runs", settings) as p:
        ok = await p.run(f"SELECT a FROM '{data / 'ok.csv'}'", language=Language.SQL, name="in")
        assert ok.rows == [{"a": 1}]
        message = await sql_error(p, f"SELECT a FROM '{tmp_path / 'elsewhere.csv'}'")
    assert "Permission Error" in message


async def test_settings_cannot_be_changed_and_extensions_cannot_be_installed_or_loaded(
    local: LocalPlatform,
) -> None:
    for code in (
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "SET allowed_directories = ['/']",
        "SET allowed_paths = ['/etc/passwd']",
        "SET lock_configuration = false",
        "PRAGMA memory_limit = '100GB'",
        "SET threads = 64",
    ):
        assert "configuration has been locked" in await sql_error(local, code), code
    for code in ("INSTALL httpfs", "LOAD httpfs", "FORCE INSTALL httpfs", "LOAD '/tmp/x.so'"):
        assert "Permission Error" in await sql_error(local, code), code

    limits = await local.run(
        "SELECT current_setting('threads') AS threads, current_setting('memory_limit') AS mem, "
        "current_setting('enable_external_access') AS external, "
        "current_setting('lock_configuration') AS locked",
        language=Language.SQL,
        name="limits",
    )
    [row] = limits.rows
    assert (row["threads"], row["external"], row["locked"]) == (2, False, True)
    assert row["mem"].endswith("GiB") and float(row["mem"].split()[0]) <= 4.0


async def test_a_script_past_its_time_is_interrupted(tmp_path: Path) -> None:
    settings = PlatformSettings(local_sql_timeout_seconds=0.5)
    async with LocalPlatform(tmp_path / "l.duckdb", tmp_path / "runs", settings) as p:
        with pytest.raises(PlatformTimeoutError, match=r"interrupted after 0\.5s"):
            await p.run(
                "SELECT count(*) FROM range(1000000000) a, range(1000) b",
                language=Language.SQL,
                name="endless",
            )
        assert (await p.run("SELECT 1 AS ok", language=Language.SQL, name="after")).rows == [
            {"ok": 1}
        ]


# --- Python ---------------------------------------------------------------------


async def python_fails(local: LocalPlatform, code: str) -> str:
    result = await local.fetch_output(
        await local.submit(code, language=Language.PYTHON, name="evasive")
    )
    assert result.status is ExecutionStatus.FAILED, result.output
    return result.error or ""


async def test_python_cannot_write_outside_the_workspace(
    local: LocalPlatform, outside: Path
) -> None:
    target = outside / "x.txt"
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    attempts = [
        f"open({str(target)!r}, 'w').write('x')",
        f"import pathlib; pathlib.Path({str(outside)!r}, 'x.txt').write_text('x')",
        f"import os; fd = os.open({str(target)!r}, os.O_CREAT | os.O_WRONLY); os.write(fd, b'x')",
        f"import shutil; shutil.copy(__file__, {str(target)!r})",
        f"import os; os.rename({str(victim)!r}, 'stolen.txt')",
        f"import os; os.remove({str(victim)!r})",
        f"import os; os.mkdir({str(outside / 'dir')!r})",
        f"import os; os.symlink('/etc/passwd', {str(outside / 'link')!r})",
        f"import sqlite3; sqlite3.connect({str(outside / 'new.db')!r})",
        "import os; os.chdir('../..'); open('escaped.txt', 'w').write('x')",
        f"p = {str(outside)!r}[:3] + {str(outside)!r}[3:]; open(p + '/y.txt', 'a').write('x')",
    ]
    for code in attempts:
        assert "sandbox:" in await python_fails(local, code), code
    assert names(outside) == ["victim.txt"]
    assert victim.read_text() == "keep me"
    assert not (local.workdir.parent / "escaped.txt").exists()


async def test_python_makes_no_connection(local: LocalPlatform, listener: Listener) -> None:
    port = listener.port
    attempts = [
        f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)",
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)",
        f"import http.client; http.client.HTTPConnection('127.0.0.1', {port}).request('GET', '/')",
        "import socket; socket.getaddrinfo('localhost', 80)",
        f"import subprocess, sys; subprocess.run([sys.executable, '-c', 'import socket; "
        f'socket.create_connection(("127.0.0.1", {port}))\'])',
        f"import os; os.system('python3 -c \"import socket; socket.create_connection((\\'127.0.0.1\\', {port}))\"')",
        "import ctypes; ctypes.CDLL(None).socket(2, 1, 0)",
        "import ctypes; ctypes.CDLL('libc.so.6')",
        f"import socket; s = socket.socket(); s.connect(('127.0.0.1', {port}))",
        f"s = __import__('so' + 'cket'); getattr(s, 'create_' + 'connection')(('127.0.0.1', {port}))",
    ]
    if shutil.which("curl"):
        attempts.append(f"import os; os.execvp('curl', ['curl', 'http://127.0.0.1:{port}/'])")
    for code in attempts:
        assert "sandbox:" in await python_fails(local, code), code
    assert listener.accepted == []


async def test_python_sees_no_secret_and_runs_in_its_folder_with_limits(
    local: LocalPlatform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AADAP_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "injected"))
    code = (
        "import os, resource, sys, tempfile\n"
        "print(sorted(os.environ))\n"
        "print(os.getcwd())\n"
        "print(tempfile.gettempdir())\n"
        "print(resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU))\n"
        "print(sys.flags.isolated)\n"
    )
    result = await local.run(code, language=Language.PYTHON, name="env")
    names, cwd, tmp, limits, isolated = result.output.strip().splitlines()
    assert "do-not-leak" not in result.output
    assert "AADAP_SECRET_KEY" not in names and "OPENAI_API_KEY" not in names
    assert "PYTHONPATH" not in names
    assert "AADAP_RUN_PARAMETERS" in names
    rundir = Path(result.raw["workdir"])
    assert Path(cwd) == rundir and Path(tmp).is_relative_to(rundir)
    assert limits == f"({4096 << 20}, {4096 << 20}) ({21}, {21})"
    assert isolated == "1"


async def test_python_memory_is_bounded(tmp_path: Path) -> None:
    settings = PlatformSettings(local_memory_limit_mb=256)
    async with LocalPlatform(tmp_path / "l.duckdb", tmp_path / "runs", settings) as p:
        error = await python_fails(p, "blob = bytearray(1 << 30)\n")
    assert "MemoryError" in error


async def test_legitimate_python_still_works(local: LocalPlatform, tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("a,b\n1,2\n")
    code = (
        "import csv, json, tempfile, pathlib\n"
        f"rows = list(csv.DictReader(open({str(data)!r})))\n"
        "with tempfile.NamedTemporaryFile('w', delete=False) as fh:\n"
        "    fh.write('scratch')\n"
        "pathlib.Path('result.json').write_text(json.dumps(rows))\n"
        "print(len(rows))\n"
    )
    result = await local.run(code, language=Language.PYTHON, name="ok")
    assert result.output.strip() == "1"
    assert (Path(result.raw["workdir"]) / "result.json").read_text() == '[{"a": "1", "b": "2"}]'


async def test_network_can_be_allowed_by_settings(tmp_path: Path, listener: Listener) -> None:
    settings = PlatformSettings(local_python_network=True)
    async with LocalPlatform(tmp_path / "l.duckdb", tmp_path / "runs", settings) as p:
        await p.run(
            f"import socket; socket.create_connection(('127.0.0.1', {listener.port})).close()",
            language=Language.PYTHON,
            name="allowed",
        )
    for _ in range(50):
        if listener.accepted:
            break
        await asyncio.sleep(0.05)
    assert len(listener.accepted) == 1


async def test_a_file_named_through_a_symbolic_link_is_readable(
    local: LocalPlatform, tmp_path: Path
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "x.csv").write_text("a\n7\n")
    (tmp_path / "link").symlink_to(real)
    result = await local.run(
        f"SELECT a FROM '{tmp_path / 'link' / 'x.csv'}'", language=Language.SQL, name="link"
    )
    assert result.rows == [{"a": 7}]
