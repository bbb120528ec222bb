"""Random (version 4) UUIDs for the rows AADAP writes, from a buffered pool of OS randomness.

``uuid.uuid4()`` reads 16 bytes with ``os.urandom`` each time: a system call, and
CPython lets go of the GIL around it, so in a process with busy background threads
(Prefect's log, event and API workers) each call can wait for the GIL to come back. A
lifecycle makes about sixty ids (ledger rows, log rows, cost rows, artifacts); measured
on PostgreSQL that was about 5 ms per lifecycle of the main thread's time. Here one
``os.urandom`` call serves 256 ids. The bytes are the same kind (the OS's CSPRNG), and
the version and variant bits are set as ``uuid4`` sets them.

A forked child drops the pool it inherited (so parent and child never hand out the same
id), and a lock keeps threads from taking the same slice.
"""

from __future__ import annotations

import os
import threading
import uuid

_IDS_PER_READ = 256
_lock = threading.Lock()
_pool = b""
_next = 0


def _drop_pool() -> None:
    global _pool, _next
    _pool, _next = b"", 0


os.register_at_fork(after_in_child=_drop_pool)


def new_id() -> uuid.UUID:
    """A random version-4 UUID, as ``uuid.uuid4()`` makes."""
    global _pool, _next
    with _lock:
        if _next >= len(_pool):
            _pool, _next = os.urandom(16 * _IDS_PER_READ), 0
        raw = _pool[_next : _next + 16]
        _next += 16
    return uuid.UUID(bytes=raw, version=4)


__all__ = ["new_id"]
