"""Async Alembic environment. The URL comes from AADAP settings, never from alembic.ini.

``aadap db upgrade`` passes its URL through ``config.attributes["database_url"]``;
plain ``alembic upgrade head`` builds settings from the environment.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Connection

from aadap.core.config import load_settings
from aadap.db.models import Base
from aadap.db.session import create_engine
from alembic import context

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else load_settings().database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render AADAP's column types as importable names in new migrations."""
    if type_ == "type" and type(obj).__module__ == "aadap.db.types":
        autogen_context.imports.add("import aadap.db.types")
        return f"aadap.db.types.{obj!r}"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=_render_item,
        render_as_batch=True,  # SQLite needs batch mode for ALTERs
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(load_settings(), url=_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
