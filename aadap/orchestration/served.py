"""Flow-run processes of ``aadap serve`` leave its process group, so its stop cannot reach them.

A Ctrl-C at the terminal sends SIGINT to every process of the foreground group, and a
service manager may signal the whole group too; the flow-run processes that the runner
spawns are in that group, so a graceful stop of ``aadap serve`` crashed the lifecycle it
meant to let finish. Importing a flow module (the first thing a flow-run process does
with its flow) calls :func:`leave_serve_process_group`, which moves the process to a
group of its own. Prefect still reaches it: it cancels a run by its process id. A
signal that arrives while the process is still starting (importing Prefect, about a
second) is not kept away.
"""

from __future__ import annotations

import os

#: set by ``aadap serve`` to its own process id; inherited by the runs it spawns
SERVE_PID_ENV = "AADAP_SERVE_PID"


def leave_serve_process_group() -> bool:
    """In a process ``aadap serve`` spawned: become the leader of a new process group.
    Returns whether it moved (never in ``aadap serve`` itself, nor outside it)."""
    serve_pid = os.environ.get(SERVE_PID_ENV)
    if not serve_pid or serve_pid == str(os.getpid()) or not hasattr(os, "setpgid"):
        return False
    if os.getpgid(0) == os.getpid():
        return False  # already a group of its own
    os.setpgid(0, 0)
    return True


__all__ = ["SERVE_PID_ENV", "leave_serve_process_group"]
