"""One ``aadap serve`` per Prefect API on a machine, and stops that cancel nothing.

Prefect's runner pauses every deployment it registered when it stops, and cancels the
flow runs it is running. Two ``aadap serve`` against one Prefect API register the same
deployments, so the one that stopped paused what the other had just registered (a
restart paused everything), and a SIGTERM cancelled a lifecycle that had just started.

* **One at a time.** ``aadap serve`` holds a lock keyed by the Prefect API URL (a file
  under the system temp folder, released by the OS however the process ends) from
  before it registers its deployments until it has paused them on the way out. Its
  status beside the lock says ``serving`` or ``stopping``: a second ``aadap serve`` is
  refused while the first serves (``SERVE_ALREADY_RUNNING``, exit 2), and waits up to
  ``AADAP_SCHEDULES_SERVE_HANDOVER_SECONDS`` while it stops (a restart), so the pause of
  the old one always comes before the registration of the new one. The lock does not
  reach other machines: run one ``aadap serve`` per Prefect server (workers scale out).
* **Graceful stop.** SIGTERM or SIGINT stops polling for new runs; the runs in progress
  are left to finish (the runner waits for them on its way out), never cancelled. A
  ``kill -9`` leaves them to ``reconcile``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from aadap.core.exceptions import ServeAlreadyRunningError

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

POLL_SECONDS = 0.2


def status_path(api_url: str) -> Path:
    """Where the ``aadap serve`` of ``api_url`` on this machine writes its status (its lock
    is beside it, ``.lock``)."""
    key = hashlib.sha256(api_url.rstrip("/").encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "aadap-serve" / f"{key}.json"


def _read_status(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_status(path: Path, api_url: str, state: str) -> None:
    status = {"pid": os.getpid(), "api": api_url, "state": state,
              "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
    path.write_text(json.dumps(status), "utf-8")


@contextmanager
def only_server(api_url: str, *, handover_seconds: float, say: Any) -> Iterator[Path]:
    """Hold the serve lock of ``api_url`` while the block runs; refuse at once while
    another ``aadap serve`` serves, wait while one stops. Yields the status file."""
    path = status_path(api_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.with_name(path.name + ".lock"), thread_local=False)
    deadline = time.monotonic() + handover_seconds
    announced = False
    while True:
        try:
            lock.acquire(blocking=False)
            break
        except Timeout:
            holder = _read_status(path)
            if holder.get("state") != "stopping":
                raise ServeAlreadyRunningError(
                    f"another aadap serve (pid {holder.get('pid', '?')}, serving since "
                    f"{holder.get('since', '?')}) already serves the AADAP deployments against "
                    f"{api_url}; stop it first (a stopping one is waited for), or scale out "
                    "with workers (README: Scale out)",
                    details={"pid": holder.get("pid"), "api": api_url},
                ) from None
            if time.monotonic() >= deadline:
                raise ServeAlreadyRunningError(
                    f"the aadap serve (pid {holder.get('pid', '?')}) that is stopping is still "
                    f"finishing its runs after {handover_seconds:g}s "
                    "(AADAP_SCHEDULES_SERVE_HANDOVER_SECONDS); start again once it has ended",
                    details={"pid": holder.get("pid"), "api": api_url},
                ) from None
            if not announced:
                say(f"waiting for the aadap serve (pid {holder.get('pid')}) that is stopping")
                announced = True
            time.sleep(POLL_SECONDS)
    try:
        _write_status(path, api_url, "serving")
        yield path
    finally:
        lock.release()


def _graceful_runner_class() -> type[Any]:
    from prefect.runner import Runner

    class GracefulRunner(Runner):
        """A runner whose stop cancels nothing: it stops polling, and leaving its
        ``async with`` waits for the runs in progress (Prefect's runs task group)."""

        status: Path | None = None
        api_url: str = ""
        say: Any = print

        def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
            if self.status is not None and self.started and not self.stopping:
                _write_status(self.status, self.api_url, "stopping")
                self.say("stopping: no new runs are picked up; the runs in progress finish first")
            super().handle_sigterm(*args, **kwargs)

        async def cancel_all(self) -> None:
            """Nothing is cancelled on the way out (see the class docstring)."""

    return GracefulRunner


def serve_gracefully(
    deployments: Sequence[RunnerDeployment],
    *,
    status: Path,
    api_url: str,
    limit: int | None,
    query_seconds: float | None = None,
    say: Any,
) -> None:
    """Register and serve ``deployments`` until SIGTERM/SIGINT, as ``prefect.serve`` does,
    with a stop that cancels nothing; call it inside :func:`only_server`."""
    runner = _graceful_runner_class()(
        pause_on_shutdown=True, limit=limit, query_seconds=query_seconds
    )
    runner.status, runner.api_url, runner.say = status, api_url, say
    for deployment in deployments:
        runner.add_deployment(deployment)
    # Ctrl-C stops as SIGTERM does (Prefect's runner installs its SIGTERM handler)
    signal.signal(signal.SIGINT, runner.handle_sigterm)
    say("serving: " + ", ".join(f"{d.flow_name}/{d.name}" for d in deployments))
    asyncio.run(runner.start())
    say("stopped: every run this process started has ended")


__all__ = ["only_server", "serve_gracefully", "status_path"]
