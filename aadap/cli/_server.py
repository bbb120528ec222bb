"""The local Prefect server of the embedded defaults, and ``aadap server status|stop``.

Without ``PREFECT_API_URL``, the first ``aadap run`` starts ``prefect server start`` in the
background on a free loopback port, with its state in ``PREFECT_HOME`` (under
``AADAP_HOME``), and records it in ``PREFECT_HOME/aadap-server.json``. Later commands find
it there and use it: a run skips the 3-5 s start of Prefect's per-process (ephemeral) API,
and its runs stay in a Prefect UI a newcomer can open. Choices, and why:

* **A user's ``PREFECT_API_URL`` wins**: nothing is started or read then.
* **One server per ``PREFECT_HOME``**: whoever starts it holds a file lock beside the
  record, so two runs racing on a fresh home start one server; the other waits and uses it.
* **A stale record is harmless**: the recorded pid must still be the process that was
  started (its start time in ``/proc`` is recorded with it) and answer ``/health``;
  otherwise a new server is started and the record replaced. A pid reused by another
  program is never signalled.
* **The server outlives the run on purpose** (that is the gain); ``aadap server stop``
  ends it, and ``AADAP_PREFECT_SERVER=ephemeral`` keeps Prefect's per-process API, which
  dies with each command (no process is left behind; every run pays the start).
* **Port conflicts**: a free port is chosen when the server starts, never a fixed 4200
  that another Prefect server may hold.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import typer

from aadap.cli._common import Format, check_format, err, out, print_json, settings_or_exit
from aadap.core import locks
from aadap.core.config import Settings
from aadap.core.exceptions import PrefectUnavailableError

RECORD = "aadap-server.json"
LOG = "aadap-server.log"
#: the longest a first start may take (migrations of a fresh SQLite file on a busy machine)
START_TIMEOUT_SECONDS = 180.0
#: how long a command waits for another one that is starting the server
LOCK_WAIT_SECONDS = START_TIMEOUT_SECONDS + 30
_PROGRESS_EVERY = 5.0

#: settings of the server process (see ``_prefect_env``: SQLite has one writer at a time)
_SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "50",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "2",
}


@dataclass(frozen=True, slots=True)
class Server:
    """A server this module started: its process (pid and start time) and its API URL."""

    pid: int
    started: str
    url: str

    @property
    def ui(self) -> str:
        return self.url.removesuffix("/api")


def home_of(settings: Settings) -> Path:
    """Where the local server keeps its state: ``PREFECT_HOME``, else ``AADAP_HOME/prefect``."""
    return Path(os.environ.get("PREFECT_HOME") or settings.home / "prefect")


def recorded(home: Path) -> Server | None:
    """The server the record names, or None (no record, or one that cannot be read)."""
    try:
        data = json.loads((home / RECORD).read_text())
        return Server(pid=int(data["pid"]), started=str(data["started"]), url=str(data["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot) from ``/proc``; "" where there is
    no ``/proc``; None when there is no such process."""
    if not Path("/proc/self/stat").exists():
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return ""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def alive(server: Server) -> bool:
    """The recorded process still runs (and is the one that was started, not a reused pid)."""
    return _start_time(server.pid) == server.started


def answers(url: str, timeout: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def running(home: Path) -> Server | None:
    """The recorded server if it runs and answers."""
    server = recorded(home)
    return server if server is not None and alive(server) and answers(server.url) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure(home: Path, say: Callable[[str], None]) -> Server:
    """The running server of ``home``, started now if there is none (one starter at a time)."""
    found = running(home)
    if found is not None:
        return found
    try:
        with locks.hold(home / RECORD, wait=LOCK_WAIT_SECONDS):
            return running(home) or _start(home, say)
    except TimeoutError as exc:
        raise PrefectUnavailableError(
            f"another command has been starting the local Prefect server in {home} for over "
            f"{LOCK_WAIT_SECONDS:g} s; see {home / LOG}, or set PREFECT_API_URL to a running server",
            details={"prefect_home": str(home)},
        ) from exc


def _start(home: Path, say: Callable[[str], None]) -> Server:
    stale = recorded(home)
    if stale is not None and alive(stale):  # it runs but does not answer: replace it
        _terminate(stale)
    port = _free_port()
    # not the client's API URL, nor the terminal handlers `prepare` sets for a command
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PREFECT_API_URL" and not k.startswith("PREFECT_LOGGING_HANDLERS_CONSOLE")
    }
    env.update(_SERVER_ENV, PREFECT_HOME=str(home))
    home.mkdir(parents=True, exist_ok=True)
    with (home / LOG).open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal does not reach it
        )  # fmt: skip
    server = Server(
        pid=proc.pid, started=_start_time(proc.pid) or "", url=f"http://127.0.0.1:{port}/api"
    )
    tmp = home / f"{RECORD}.tmp"
    tmp.write_text(json.dumps(asdict(server)))
    tmp.replace(home / RECORD)
    say(f"starting a local Prefect server at {server.ui} (first use; later runs reuse it) …")
    began = shown = time.monotonic()
    while not answers(server.url):
        now = time.monotonic()
        if proc.poll() is not None or now - began > START_TIMEOUT_SECONDS:
            _terminate(server)
            (home / RECORD).unlink(missing_ok=True)
            last = _last_line(home / LOG)
            raise PrefectUnavailableError(
                f"the local Prefect server did not start ({last or 'no output'}); "
                f"its log: {home / LOG}; or set PREFECT_API_URL to a running server",
                details={"prefect_home": str(home)},
            )
        if now - shown >= _PROGRESS_EVERY:
            shown = now
            say(f"  … still starting ({now - began:.0f} s)")
        time.sleep(0.2)
    return server


def _last_line(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:300] if lines else ""


def _terminate(server: Server, wait: float = 10.0) -> None:
    """SIGTERM the server's process group, SIGKILL if it lingers; only if it is ours."""
    for sig, limit in ((signal.SIGTERM, wait), (signal.SIGKILL, 2.0)):
        if not alive(server):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        deadline = time.monotonic() + limit
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.05)


def stop(home: Path) -> tuple[Server | None, bool]:
    """Stop the recorded server and forget it; the server, and whether it was running."""
    server = recorded(home)
    was_running = server is not None and alive(server)
    if server is not None and was_running:
        _terminate(server)
    (home / RECORD).unlink(missing_ok=True)
    return server, was_running


server_app = typer.Typer(
    help="The local Prefect server `aadap run` starts when PREFECT_API_URL is not set.",
    no_args_is_help=True,
)


@server_app.command("status")
def status(fmt: Format = "text") -> None:
    """Show whether the local Prefect server runs, its UI address and process id."""
    check_format(fmt)
    settings = settings_or_exit()
    home = home_of(settings)
    server = recorded(home)
    state = "stopped" if server is None or not alive(server) else (
        "running" if answers(server.url) else "not answering")  # fmt: skip
    info = {
        "state": state,
        "ui": None if server is None else server.ui,
        "api": None if server is None else server.url,
        "pid": None if server is None else server.pid,
        "prefect_home": str(home),
        "log": str(home / LOG),
    }
    if fmt == "json":
        print_json(info)
        return
    line = f"{state}  {info['ui'] or ''}  pid {info['pid']}" if server else state
    out.print(f"{line}\nPREFECT_HOME {home}", highlight=False, markup=False)
    if os.environ.get("PREFECT_API_URL"):
        err.print(
            f"note: PREFECT_API_URL={os.environ['PREFECT_API_URL']} is set; "
            "commands use it, not this server",
            highlight=False,
            markup=False,
        )


@server_app.command("stop")
def stop_command() -> None:
    """Stop the local Prefect server (the next `aadap run` starts it again)."""
    settings = settings_or_exit()
    server, was_running = stop(home_of(settings))
    if server is None:
        message = "no local Prefect server was recorded"
    elif was_running:
        message = f"stopped the local Prefect server (pid {server.pid}, {server.ui})"
    else:
        message = f"the local Prefect server (pid {server.pid}) had already stopped"
    out.print(message, highlight=False, markup=False)


__all__ = [
    "Server",
    "alive",
    "answers",
    "ensure",
    "home_of",
    "recorded",
    "running",
    "stop",
]
