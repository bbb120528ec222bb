"""Child processes for tests and benchmarks: free ports, waiting for HTTP, stopping process
groups, and ``prefect server start`` on a given database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], limit: float) -> None:
    """Wait until ``url`` answers 200, failing early if ``proc`` exits."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited with {proc.returncode} before {url} answered")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {limit} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextlib.contextmanager
def prefect_server(home: Path, postgres_url: str, *, ui: bool = False) -> Iterator[str]:
    """``prefect server start`` on a free port, keeping its state in the PostgreSQL database
    ``postgres_url`` (``postgresql://…``); yields the API URL once ``/health`` answers.
    ``ui``: serve the Prefect UI too (at the URL without ``/api``)."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": postgres_url.replace(
            "postgresql://", "postgresql+asyncpg://"
        ),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true" if ui else "false",
        # the UI's own calls go to this server (its default is port 4200)
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
    }
    env.pop("PREFECT_API_URL", None)
    with (home / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        api = f"http://127.0.0.1:{port}/api"
        try:
            wait_http(f"{api}/health", proc, 90)
            yield api
        finally:
            stop(proc)


def drain_prefect_workers() -> None:
    """Send what Prefect's background log and event workers still hold; call it while the
    server is up. Left for interpreter exit, they retry against a stopped server for over
    a minute ("Error logging to API") before the process can end."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    def drain() -> None:
        # outside an event loop ``drain_all`` waits instead of returning a coroutine
        APILogWorker.drain_all(timeout=15)
        EventsWorker.drain_all(timeout=15)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        drain()
        return
    # inside an event loop (an async fixture): the workers run on their own threads and loops
    worker = threading.Thread(target=drain, name="drain-prefect-workers")
    worker.start()
    worker.join()
