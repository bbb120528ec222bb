"""Row ids: random (version 4) UUIDs."""

from __future__ import annotations

import uuid


def new_id() -> uuid.UUID:
    """A random version-4 UUID (``uuid.uuid4()``)."""
    return uuid.uuid4()


__all__ = ["new_id"]
