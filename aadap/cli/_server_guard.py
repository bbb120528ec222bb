"""The embedded Prefect server of ``aadap run`` dies with it, even after ``kill -9``.

Prefect starts its embedded (ephemeral) API as a child process and stops it at exit; a
``kill -9`` of ``aadap run`` skips that, and the server lived on as an orphan. Here the
server is started before the flow, and a tiny watchdog process is tied to ``aadap run``
by a pipe: when ``aadap run`` ends, however it ends, the kernel closes the pipe, the
watchdog reads end-of-file and stops the server (SIGTERM, then SIGKILL after 5 s). The
watchdog checks the server's start time first, so a reused pid is never hit. Linux only
(``/proc``); elsewhere nothing is guarded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aadap.cli._prefect_env import reachable_api
from aadap.core import locks
from aadap.core.exceptions import PrefectUnavailableError

_WATCHDOG = r"""
import os, signal, sys, time
pid, started = int(sys.argv[1]), sys.argv[2]
sys.stdin.buffer.read()  # end-of-file: the aadap process is gone

def alive():
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and fields[19] == started

for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 1.0)):
    if not alive():
        break
    os.kill(pid, sig)
    deadline = time.monotonic() + wait
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state is [0], ppid [1],
    start time [19])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def embedded_server_pids() -> list[int]:
    """Children of this process that run the embedded Prefect server (uvicorn)."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None or fields[1] != me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"uvicorn" in cmdline:
            found.append(int(entry.name))
    return found


def tie_to_this_process(pid: int) -> subprocess.Popen[bytes] | None:
    """Start the watchdog for ``pid``; keep the returned process referenced while running."""
    fields = _stat(pid)
    if fields is None:
        return None
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(pid), fields[19]],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the terminal's group does not stop it first
    )


async def start_embedded_server() -> list[subprocess.Popen[bytes]]:
    """Start Prefect's embedded API now (when no ``PREFECT_API_URL`` is set) and guard it;
    or check that the configured one answers, before the flow starts."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        await reachable_api(required=False)
        return []
    if not os.path.exists("/proc/self/stat"):  # noqa: ASYNC240
        return []
    await _start_one_at_a_time()
    # reading /proc takes microseconds: not worth a thread
    return [w for w in map(tie_to_this_process, embedded_server_pids()) if w is not None]


#: how long ``aadap run`` waits for other processes starting the embedded server on the
#: same ``PREFECT_HOME`` (each start takes a few seconds)
START_LOCK_TIMEOUT_SECONDS = 300.0


async def _start_one_at_a_time() -> None:
    """Start the embedded server while holding a lock on its database: on a fresh
    ``PREFECT_HOME`` every embedded server migrates the same SQLite file, and twenty
    ``aadap run`` started together raced on it (``table block_type already exists``, with
    uvicorn's traceback on the terminal). Once one has migrated, the others start at once."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_HOME

    database = Path(PREFECT_HOME.value()) / "prefect.db"
    try:
        async with (
            locks.hold_async(database, wait=START_LOCK_TIMEOUT_SECONDS),
            get_client() as client,  # starts the embedded server
        ):
            await client.api_healthcheck()
    except TimeoutError as exc:
        raise PrefectUnavailableError(
            f"other processes have been starting Prefect's embedded server on {database} for "
            f"over {START_LOCK_TIMEOUT_SECONDS:g}s; try again, or set PREFECT_API_URL to a "
            "running Prefect server",
            details={"prefect_home": str(database.parent)},
        ) from exc


__all__ = ["embedded_server_pids", "start_embedded_server", "tie_to_this_process"]
