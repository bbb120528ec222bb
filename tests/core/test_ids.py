"""Row ids from the buffered pool: random version-4 UUIDs, never the same one twice, across
threads and across a fork."""

from __future__ import annotations

import os
import sys
import threading
import uuid

from aadap.core.ids import new_id


def test_ids_are_random_version_4_uuids() -> None:
    ids = [new_id() for _ in range(2000)]  # several refills of the pool
    assert len(set(ids)) == len(ids)
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    # random, not counted: the bytes of consecutive ids share nothing systematic
    assert len({i.bytes[:4] for i in ids}) > 1990


def test_threads_never_take_the_same_id() -> None:
    taken: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def take(into: list[uuid.UUID]) -> None:
        for _ in range(5000):
            into.append(new_id())

    threads = [threading.Thread(target=take, args=(bucket,)) for bucket in taken]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    every = [i for bucket in taken for i in bucket]
    assert len(every) == 40_000 and len(set(every)) == 40_000


def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    new_id()  # the parent holds a pool with ids left in it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.close(read)
        os.write(write, b"".join(new_id().bytes for _ in range(4)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = b"".join(new_id().bytes for _ in range(4))
    assert len(child) == 64
    assert {child[i : i + 16] for i in range(0, 64, 16)}.isdisjoint(
        {parent[i : i + 16] for i in range(0, 64, 16)}
    )
