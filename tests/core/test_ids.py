"""Row ids: random version-4 UUIDs, never the same one twice."""

from __future__ import annotations

import uuid

from aadap.core.ids import new_id


def test_ids_are_random_version_4_uuids() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    # random, not counted: the bytes of consecutive ids share nothing systematic
    assert len({i.bytes[:4] for i in ids}) > 1990
