"""``aadap db upgrade|downgrade|current``: the Alembic chain against the configured database."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import typer

from aadap.cli._common import bad_input, out, run_async, settings_or_exit
from aadap.core.config import Settings, mask_url


def _revision_after(
    settings: Settings, move: Literal["upgrade", "downgrade"] | None = None, target: str = "head"
) -> str | None:
    """Connect, migrate (``move`` to ``target``; None: nothing) and return the database's
    revision."""
    from aadap.db import migrate
    from aadap.db.session import check_connection, create_engine

    async def go() -> str | None:
        engine = create_engine(settings)
        try:
            await check_connection(engine)
            if move == "upgrade":
                await migrate.upgrade(engine, target)
            elif move == "downgrade":
                await migrate.downgrade(engine, target)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    return run_async(go)


_RELATIVE = re.compile(r"(head|base)?[+-]\d{1,4}")


def checked_revision(argument: str, revision: str) -> str:
    """``revision`` if Alembic can resolve it, else exit 2 naming it and what is allowed."""
    from alembic.util import CommandError

    from aadap.db import migrate

    name = revision.strip()
    if name in ("head", "heads", "base") or _RELATIVE.fullmatch(name):
        return name
    chain = [rev.revision for rev in migrate.script().walk_revisions()]
    try:
        found = migrate.script().get_revision(name) if name else None
    except CommandError:
        found = None
    if found is None:
        bad_input(
            argument,
            revision,
            f"head, base, -N or +N (relative steps), or a revision id: {', '.join(chain)}",
        )
    return found.revision


db_app = typer.Typer(help="Create and migrate the application database.", no_args_is_help=True)


@db_app.command("upgrade", context_settings={"ignore_unknown_options": True})
def upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database forward (default: to the newest revision)."""
    target = checked_revision("REVISION", revision)
    settings = settings_or_exit()
    now = _revision_after(settings, "upgrade", target)
    out.print(f"database {mask_url(settings.database_url)} is at revision {now}", highlight=False)


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def downgrade(
    revision: Annotated[str, typer.Argument(help="target revision, e.g. base or -1")],
) -> None:
    """Migrate the database back to REVISION."""
    target = checked_revision("REVISION", revision)
    settings = settings_or_exit()
    now = _revision_after(settings, "downgrade", target)
    out.print(
        f"database {mask_url(settings.database_url)} is at revision {now or 'base'}",
        highlight=False,
    )


@db_app.command("current")
def current() -> None:
    """Show the database's revision and the newest one available."""
    from aadap.db import migrate

    settings = settings_or_exit()
    rev = _revision_after(settings)
    head = migrate.head_revision()
    state = "up to date" if rev == head else "behind: run `aadap db upgrade`"
    out.print(f"current: {rev or 'base'}  head: {head}  ({state})", highlight=False)
