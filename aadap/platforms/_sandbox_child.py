"""Start a sandboxed local python run (``_sandbox.py`` says what and why).

Usage: ``python -I _sandbox_child.py CONFIG_JSON SCRIPT``. Standalone on purpose: it
imports nothing from AADAP, so the run's interpreter holds none of AADAP's modules.
It lowers its resource limits, installs an audit hook, then runs SCRIPT as ``__main__``.
"""

from __future__ import annotations

import json
import os
import resource
import runpy
import socket
import sys
from collections.abc import Callable
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: audit events that change the file system -> the positions of their path arguments
_PATH_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1),
    "os.link": (0, 1), "os.symlink": (1,), "os.truncate": (0,), "os.chmod": (0,),
    "os.chown": (0,), "os.utime": (0,), "shutil.rmtree": (0,), "shutil.copyfile": (1,),
    "shutil.copymode": (1,), "shutil.copystat": (1,), "shutil.chown": (0,),
    "shutil.make_archive": (0,), "shutil.unpack_archive": (1,), "sqlite3.connect": (0,),
}  # fmt: skip
_PROCESS_EVENTS = {
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile",
    "os.forkpty", "pty.spawn",
}  # fmt: skip
_RESOLVE_EVENTS = {
    "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
    "socket.gethostbyaddr", "socket.getnameinfo",
}  # fmt: skip


def limit(config: dict[str, Any]) -> None:
    """Lower soft and hard limits together, so the run cannot raise them again."""
    limits = [
        (resource.RLIMIT_CPU, config["cpu_seconds"]),
        (resource.RLIMIT_FSIZE, config["file_bytes"]),
        (resource.RLIMIT_CORE, 0),
    ]
    if sys.platform.startswith("linux"):  # macOS does not enforce an address-space limit
        limits.append((resource.RLIMIT_AS, config["memory_bytes"]))
    for kind, value in limits:
        _, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))


def _internet(event: str, args: tuple[Any, ...]) -> bool:
    """A socket event on anything but a Unix socket (a new socket names its family second)."""
    if event == "socket.__new__":
        return bool(args[1] != socket.AF_UNIX)
    if event in ("socket.connect", "socket.sendto", "socket.bind"):
        return bool(args[0].family != socket.AF_UNIX)
    return False


def hook(roots: tuple[str, ...], *, network: bool) -> Callable[[str, tuple[Any, ...]], None]:
    def inside(path: Any) -> bool:
        if isinstance(path, int):  # an open descriptor: its opening was checked
            return True
        name = os.fsdecode(path)
        return (os.path.realpath(name) + os.sep).startswith(roots)

    def refuse(event: str, what: str) -> None:
        raise PermissionError(f"sandbox: {event} refused ({what})")

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, _, flags = args
            if path is not None and flags & _WRITE_FLAGS and not inside(path):
                refuse(event, f"writing {path!r} outside the workspace")
        elif event in _PATH_EVENTS:
            for position in _PATH_EVENTS[event]:
                if not inside(args[position]):
                    refuse(event, f"{args[position]!r} is outside the workspace")
        elif network:
            return
        elif _internet(event, args) or event in _RESOLVE_EVENTS:
            refuse(event, "no network for local python runs")
        elif event in _PROCESS_EVENTS:
            refuse(event, "no new processes: they would run outside this sandbox")
        elif event == "ctypes.dlsym" or (event == "ctypes.dlopen" and args[0] is not None):
            refuse(event, "no native library calls")

    return audit


def main(config_json: str, script: str) -> None:
    config = json.loads(config_json)
    script = os.path.abspath(script)
    limit(config)
    roots = tuple(os.path.realpath(root) + os.sep for root in config["write_roots"])
    sys.dont_write_bytecode = True
    sys.addaudithook(hook(roots, network=config["network"]))
    sys.argv = [script]
    sys.path.insert(0, os.path.dirname(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
