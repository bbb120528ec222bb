"""A cross-process lock on a file, with a bounded wait.

Processes that share an ``AADAP_HOME`` (two commands, twenty ``aadap run``) take it
around what only one of them may do at a time: migrating the embedded SQLite database,
opening the local DuckDB file (DuckDB admits one writing process). It is an OS lock
(``flock`` on POSIX, ``msvcrt.locking`` on Windows, through ``filelock``) held on an open
file, so it is released when its holder exits, however it exits. Each acquisition opens
the file anew, so two threads of one process exclude each other too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

POLL_SECONDS = 0.02


def lock_path(target: Path) -> Path:
    """The lock file that guards ``target``: beside it, ``<name>.lock``."""
    return target.with_name(target.name + ".lock")


@contextmanager
def hold(target: Path, *, wait: float) -> Iterator[None]:
    """Hold the lock that guards ``target``; ``TimeoutError`` after ``wait`` seconds."""
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=wait, poll_interval=POLL_SECONDS)
    except Timeout:
        raise TimeoutError(f"{path} is held by another process") from None
    try:
        yield
    finally:
        lock.release()


@asynccontextmanager
async def hold_async(target: Path, *, wait: float) -> AsyncIterator[None]:
    """:func:`hold` for a coroutine: it tries without blocking and sleeps between tries, so
    the event loop runs meanwhile and a cancelled wait leaves nothing behind."""
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False)
    deadline = time.monotonic() + wait
    while True:
        try:
            lock.acquire(blocking=False)
            break
        except Timeout:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{path} is held by another process") from None
            await asyncio.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


__all__ = ["hold", "hold_async", "lock_path"]
