"""Platform connections: the SQL of ``platform_connections``.

What a connection may hold (its settings, its secret) and which one a task deploys
through are the services' (:mod:`aadap.services.connections`); this module reads and
writes rows.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.db.models import PlatformConnection


async def get_connection(
    session: AsyncSession, *, connection_id: uuid.UUID
) -> PlatformConnection | None:
    return await session.get(PlatformConnection, connection_id)


async def get_by_name(
    session: AsyncSession, *, name: str, lock: bool = False
) -> PlatformConnection | None:
    """The connection called ``name``; ``lock``: its row locked until commit."""
    query = select(PlatformConnection).where(PlatformConnection.name == name)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_marked_default(session: AsyncSession) -> PlatformConnection | None:
    """The connection marked default (at most one is)."""
    query = select(PlatformConnection).where(PlatformConnection.is_default.is_(True))
    return (await session.execute(query)).scalar_one_or_none()


async def list_connections(
    session: AsyncSession, *, active_only: bool = False
) -> list[PlatformConnection]:
    """Every connection (``active_only``: the enabled ones), by name."""
    query = select(PlatformConnection).order_by(PlatformConnection.name)
    if active_only:
        query = query.where(PlatformConnection.is_active.is_(True))
    return list((await session.execute(query)).scalars())


async def list_active_names(session: AsyncSession) -> list[str]:
    """The names of the enabled connections, sorted."""
    query = (
        select(PlatformConnection.name)
        .where(PlatformConnection.is_active.is_(True))
        .order_by(PlatformConnection.name)
    )
    return list((await session.execute(query)).scalars())


async def list_encrypted_for_update(session: AsyncSession) -> list[PlatformConnection]:
    """The connections holding an encrypted secret, by name, their rows locked until commit."""
    query = (
        select(PlatformConnection)
        .where(PlatformConnection.secret_ciphertext.is_not(None))
        .order_by(PlatformConnection.name)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def add_connection(session: AsyncSession, *, row: PlatformConnection) -> None:
    """Insert ``row`` now (flushed: its id and timestamps are set, a duplicate name raises)."""
    session.add(row)
    await session.flush()


async def delete_connection(session: AsyncSession, *, row: PlatformConnection) -> None:
    """Delete ``row`` (at the next flush)."""
    await session.delete(row)


async def clear_default(session: AsyncSession, *, except_id: uuid.UUID | None = None) -> None:
    """No connection but ``except_id`` (``None``: none at all) is marked default."""
    query = update(PlatformConnection)
    if except_id is not None:
        query = query.where(PlatformConnection.id != except_id)
    await session.execute(query.values(is_default=False))
