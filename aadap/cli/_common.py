"""Shared CLI plumbing: errors become messages and exit codes, options are checked one way,
the database is opened one way, and a request is built one way.

Keep this module (and every command module's top level) light: ``aadap --help`` imports it,
so the database, Prefect, the platforms and the services are imported where they are used.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aadap.cli._errors import EXIT_BAD_INPUT as EXIT_BAD_INPUT
from aadap.cli._errors import EXIT_FAILURE as EXIT_FAILURE
from aadap.cli._errors import report
from aadap.core.config import Settings, load_settings
from aadap.core.exceptions import (
    AADAPError,
    ConfigurationError,
    InvalidConfigurationError,
    InvalidRequestError,
)

if TYPE_CHECKING:
    from aadap.core.requests import TaskRequest
    from aadap.db.session import Database

T = TypeVar("T")
E = TypeVar("E", bound=enum.StrEnum)


out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

# --- options shared by several commands ----------------------------------------------------

TEXT_OR_JSON = ("text", "json")
Format = Annotated[str, typer.Option("--format", help="text or json")]
EnvironmentOpt = Annotated[str, typer.Option("--environment", help="SANDBOX or PRODUCTION")]
PlatformOpt = Annotated[str, typer.Option("--platform", help="local, databricks or fabric")]
ConnectionOpt = Annotated[str | None, typer.Option("--connection", help="platform connection name")]
TokenBudgetOpt = Annotated[int | None, typer.Option("--token-budget", help="tokens for this task")]
UsdBudgetOpt = Annotated[str | None, typer.Option("--usd-budget", help="USD for this task")]
IdempotencyKeyOpt = Annotated[
    str | None,
    typer.Option("--idempotency-key", help="submitting the same key twice reuses the task"),
]


# --- errors -----------------------------------------------------------------------------


def fail(exc: AADAPError) -> NoReturn:
    """Print ``error [CODE] message`` and exit 2 (bad input or configuration) or 1."""
    report(exc)


def bad_input(option: str, value: object, allowed: str) -> NoReturn:
    fail(
        InvalidRequestError(
            f"{option}={value!r} is not valid; allowed: {allowed}", details={"field": option}
        )
    )


# --- option checks ------------------------------------------------------------------------


def check_choice(option: str, value: str, choices: Iterable[str]) -> None:
    """Exit with a bad-input message unless ``value`` is one of ``choices``."""
    allowed = tuple(choices)
    if value not in allowed:
        bad_input(option, value, ", ".join(allowed))


def check_format(fmt: str, choices: Iterable[str] = TEXT_OR_JSON) -> None:
    check_choice("--format", fmt, choices)


def enum_values(enum_cls: type[enum.StrEnum]) -> str:
    return ", ".join(member.value for member in enum_cls)


def enum_option(
    enum_cls: type[E], option: str, value: str, normalise: Callable[[str], str] = str.upper
) -> E:
    """``value`` (after ``normalise``) as a member of ``enum_cls``, or exit naming the allowed values."""
    try:
        return enum_cls(normalise(value))
    except ValueError:
        bad_input(option, value, enum_values(enum_cls))


# --- running ------------------------------------------------------------------------------


def settings_or_exit(*, home: bool = True) -> Settings:
    """The settings, or exit 2 naming the bad variable. ``home``: also check that
    ``AADAP_HOME`` is (or can become) a writable directory, before any work starts."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        fail(exc)
    if home:
        check_home(settings.home)
    return settings


def check_home(home: Path) -> None:
    """``AADAP_HOME`` must be a directory this user can write, created if missing."""
    allowed = "a directory this user can create and write to (default ~/.aadap)"
    if home.exists() and not home.is_dir():
        bad_setting("AADAP_HOME", home, f"is a file, not a directory; allowed: {allowed}")
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        bad_setting("AADAP_HOME", home, f"cannot be created ({exc.strerror}); allowed: {allowed}")
    if not os.access(home, os.W_OK | os.X_OK):
        bad_setting("AADAP_HOME", home, f"is not writable; allowed: {allowed}")


def bad_setting(variable: str, value: object, problem: str) -> NoReturn:
    fail(
        InvalidConfigurationError(
            f"{variable}={str(value)!r} {problem}", details={"variable": variable}
        )
    )


def run_async(fn: Callable[[], Coroutine[Any, Any, T]] | Callable[[], Awaitable[T]]) -> T:
    """The CLI's single entry into asyncio; AADAP errors become messages and exit codes."""
    try:
        return asyncio.run(fn())  # type: ignore[arg-type]
    except AADAPError as exc:
        fail(exc)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """The application database, reachable and migrated to head; disposed on leaving."""
    from aadap.db import migrate
    from aadap.db.session import Database, check_connection

    db = Database(settings)
    try:
        await check_connection(db.engine)
        await migrate.ensure_schema(db.engine)
        yield db
    finally:
        await db.dispose()


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on the opened database (:func:`open_database`) through :func:`run_async`."""

    async def go() -> T:
        async with open_database(settings) as db:
            return await work(db)

    return run_async(go)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, sort_keys=True))


# --- tables ------------------------------------------------------------------------------


#: column headers that are not the field's own name
_HEADERS = {"tokens_in": "tokens in", "tokens_out": "tokens out", "cost_usd": "cost $",
            "unpriced_calls": "unpriced", "created_at": "created", "expires_at": "expires",
            "operation_class": "operation", "environment": "env", "task_id": "task",
            "last_tested": "last tested"}  # fmt: skip


def table(fields: list[str], rows: list[dict[str, Any]], *, names: set[str]) -> Table:
    """``rows`` as a table of ``fields``. The columns in ``names`` (titles, agents, models)
    fold into the room the others leave; the others (ids, states, figures, times) are
    never wrapped nor cut. Every cell is plain text, never read as console markup: titles
    and names come from users and providers."""
    shown = Table()
    for f in fields:
        header = _HEADERS.get(f, f)
        if f in names:
            shown.add_column(header, overflow="fold")
        else:
            width = max([len(header), *(len(_cell(r[f])) for r in rows)])
            shown.add_column(header, no_wrap=True, min_width=width)
    for r in rows:
        shown.add_row(*(Text(_cell(r[f])) for f in fields))
    return shown


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def minute(iso: str | None) -> str:
    """An ISO time as a table shows it, to the minute: ``2026-12-08 00:05``."""
    return "" if iso is None else iso[:16].replace("T", " ")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut shown by an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- requests -----------------------------------------------------------------------------


def task_request(
    text: str,
    *,
    environment: str,
    platform: str,
    connection: str | None,
    token_budget: int | None,
    usd_budget: str | None,
    idempotency_key: str | None,
    working_dir: Path | None = None,
) -> TaskRequest:
    """The options of ``aadap run`` / ``aadap submit`` as a validated request, or exit 2.
    ``working_dir``: where its relative paths resolve; None: the data root of the process
    that runs it (``AADAP_DATA_ROOT``)."""
    from decimal import Decimal

    from aadap.core.requests import TaskRequest

    try:
        usd = None if usd_budget is None else Decimal(usd_budget)
    except (ArithmeticError, ValueError):
        bad_input("--usd-budget", usd_budget, "a non-negative decimal such as 0.50")
    try:
        return TaskRequest.parse(
            {
                "text": text,
                "environment": environment.upper(),
                "platform": platform.lower(),
                "connection": connection,
                "token_budget": token_budget,
                "usd_budget": usd,
                "idempotency_key": idempotency_key,
                "working_dir": None if working_dir is None else str(working_dir),
            }
        )
    except InvalidRequestError as exc:
        fail(exc)


def refuse_paths_outside_root(request: TaskRequest, settings: Settings) -> None:
    """Exit 2 (``DATA_PATH_OUTSIDE_ROOT``) before any run exists if ``request`` names a
    file outside the data root (``aadap.core.datapaths``)."""
    from aadap.core import datapaths
    from aadap.core.exceptions import DataPathOutsideRootError

    root = settings.resolved_data_root
    try:
        datapaths.check_request_paths(
            request.text, working_dir=datapaths.working_dir(request.working_dir, root), root=root
        )
    except DataPathOutsideRootError as exc:
        fail(exc)
