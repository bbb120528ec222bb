"""The local Prefect server of the embedded defaults: the first ``aadap run`` starts it in
the background (one, however many runs race on a fresh home), later runs reuse it and say
where its UI shows the run, ``aadap server status|stop`` report and end it, a stale record
is replaced without signalling whatever now holds its pid, and a user's
``PREFECT_API_URL`` always wins."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aadap.cli import _server
from tests.cli import AADAP, aadap, cli_env

REQUEST = "what tables are there?"
UI_LINE = re.compile(r"Prefect UI: (http://127\.0\.0\.1:\d+)/runs/flow-run/[0-9a-f-]{36}")


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    _server.stop(tmp_path / "prefect")  # never leave a server behind, whatever failed


def run(home: Path, api_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"AADAP_PREFECT_SERVER": "background"} | (
        {} if api_url is None else {"PREFECT_API_URL": api_url}
    )
    return subprocess.run(
        [str(AADAP), "run", REQUEST], env=cli_env(home, **env), cwd=home,
        capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_racing_runs_start_one_server_later_runs_reuse_it_and_stop_ends_it(home: Path) -> None:
    # a stale record naming a live process that is not the server: never signalled
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (home / "prefect").mkdir(parents=True)
        stale = {"pid": bystander.pid, "started": "1", "url": "http://127.0.0.1:9/api"}
        (home / "prefect" / _server.RECORD).write_text(json.dumps(stale))

        with ThreadPoolExecutor(max_workers=2) as pool:
            first = list(pool.map(lambda _: run(home), range(2)))
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
    for done in first:
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stdout + done.stderr
    assert sum("starting a local Prefect server" in d.stderr for d in first) == 1
    server = _server.recorded(home / "prefect")
    assert server is not None and server.pid != bystander.pid and _server.alive(server)
    for done in first:
        match = UI_LINE.search(done.stderr)
        assert match is not None, done.stderr[-2000:]
        assert match.group(1) == server.ui

    again = run(home)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "starting a local Prefect server" not in again.stderr
    assert _server.recorded(home / "prefect") == server

    status = aadap(
        "server", "status", "--format", "json", home=home, AADAP_PREFECT_SERVER="background"
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) | {"log": None, "prefect_home": None} == {
        "state": "running", "ui": server.ui, "api": server.url, "pid": server.pid,
        "log": None, "prefect_home": None,
    }  # fmt: skip

    stopped = aadap("server", "stop", home=home, AADAP_PREFECT_SERVER="background")
    assert stopped.returncode == 0, stopped.stderr
    assert f"pid {server.pid}" in stopped.stdout
    assert not _server.alive(server)
    status = aadap("server", "status", home=home, AADAP_PREFECT_SERVER="background")
    assert status.stdout.startswith("stopped")


def test_the_users_prefect_api_url_wins_and_nothing_is_started(home: Path) -> None:
    done = run(home, api_url="http://127.0.0.1:9/api")

    assert done.returncode != 0
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("error [")]
    assert line.startswith("error [PREFECT_UNAVAILABLE]") and "127.0.0.1:9" in line
    assert "Traceback" not in done.stderr
    assert _server.recorded(home / "prefect") is None


def test_an_unknown_server_mode_is_refused_naming_the_variable(home: Path) -> None:
    done = aadap("run", REQUEST, home=home, AADAP_PREFECT_SERVER="shared")

    assert done.returncode == 2, done.stderr
    assert "AADAP_PREFECT_SERVER" in done.stderr.upper() and "error [" in done.stderr
    assert _server.recorded(home / "prefect") is None
