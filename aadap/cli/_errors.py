"""The CLI's one error boundary: every exception becomes ``error [CODE] message`` and an exit status.

:class:`BoundaryGroup` is the ``aadap`` command group; it wraps every command. An
:class:`AADAPError` is printed as it is. A foreign exception (SQLAlchemy, httpx, Prefect,
Alembic, ``OSError``, …) is translated here, once, to the taxonomy; one that nobody knows
becomes ``INTERNAL_ERROR`` with a pointer to where its traceback was written
(``AADAP_HOME/logs/cli-errors.log``). A traceback reaches the terminal only with
``--verbose`` or ``AADAP_DEBUG=1``.

Exit status: 2 bad input or configuration, 1 anything else that failed (``aadap check``
adds 3 and 4 for its decisions).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from aadap.core.exceptions import (
    AADAPError,
    ConfigurationError,
    DatabaseUnavailableError,
    FileSystemError,
    InternalError,
    InvalidRequestError,
    PrefectAPIError,
    PrefectUnavailableError,
    TaskNotFoundError,
)

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
VERBOSE = "aadap.verbose"
"""``ctx.meta`` key a command sets to show tracebacks (``aadap run --verbose``)."""

_err = Console(stderr=True, soft_wrap=True)


def debugging(ctx: typer.Context | None = None) -> bool:
    """Tracebacks on the terminal: ``AADAP_DEBUG=1`` or a command's ``--verbose``."""
    if os.environ.get("AADAP_DEBUG", "").strip().lower() in ("1", "true", "yes"):
        return True
    return bool(ctx is not None and ctx.meta.get(VERBOSE))


def exit_status(exc: AADAPError) -> int:
    """2 for bad input (a request, an option, an id that names nothing) or configuration; 1 else."""
    bad = InvalidRequestError | ConfigurationError | TaskNotFoundError
    return EXIT_BAD_INPUT if isinstance(exc, bad) else EXIT_FAILURE


def report(exc: AADAPError) -> NoReturn:
    """Print the one error line and exit with the documented status."""
    _err.print("error", style="bold red", end=" ")
    _err.print(f"[{exc.error_code}] {exc.message}", markup=False, highlight=False)
    raise typer.Exit(exit_status(exc))


def log_path() -> Path:
    """Where tracebacks of translated and unknown errors go: ``AADAP_HOME/logs/cli-errors.log``
    (read from the environment: the settings themselves may be what failed)."""
    home = os.environ.get("AADAP_HOME", "").strip()
    base = Path(home).expanduser() if home else Path.home() / ".aadap"
    return base / "logs" / "cli-errors.log"


def write_traceback(exc: BaseException, command: str) -> Path:
    """Append ``exc``'s traceback to :func:`log_path` (or a file in the temp folder when
    AADAP_HOME cannot be written) and return the file used."""
    text = "".join(traceback.format_exception(exc))
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    entry = f"--- {stamp} pid {os.getpid()} aadap {command}\n{text}\n"
    for path in (log_path(), Path(tempfile.gettempdir()) / "aadap-cli-errors.log"):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(entry)
        except OSError:
            continue
        return path
    return Path("(nowhere: neither AADAP_HOME/logs nor the temp folder is writable)")


def _loaded(module: str) -> Any:
    """A module only if something already imported it: an exception of a library that was
    never imported cannot be the one being handled, and the boundary stays light."""
    return sys.modules.get(module)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _prefect_api_url() -> str:
    return os.environ.get("PREFECT_API_URL") or "the embedded Prefect API"


def _translate_library(exc: BaseException) -> AADAPError | None:
    """SQLAlchemy, Alembic, Prefect and httpx errors, when their library is loaded."""
    sa = _loaded("sqlalchemy.exc")
    if sa is not None and isinstance(exc, sa.SQLAlchemyError):
        if isinstance(exc, sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
            return DatabaseUnavailableError(
                f"the database failed (AADAP_DATABASE_URL): {type(exc).__name__}: {_first_line(exc)}"
            )
        return None  # any other SQLAlchemy error is a bug of ours: INTERNAL_ERROR
    alembic = _loaded("alembic.util.exc")
    if alembic is not None and isinstance(exc, alembic.CommandError):
        return InvalidRequestError(f"the migration was refused: {_first_line(exc)}")
    httpx = _loaded("httpx")
    if httpx is not None and isinstance(exc, httpx.TransportError):
        return PrefectUnavailableError(
            f"no Prefect API answered at {_prefect_api_url()} (PREFECT_API_URL): "
            f"{type(exc).__name__}: {_first_line(exc)}"
        )
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        return PrefectAPIError(
            f"the Prefect API at {_prefect_api_url()} answered {exc.response.status_code}: "
            f"{_first_line(exc)}"
        )
    prefect = _loaded("prefect.exceptions")
    if prefect is not None and isinstance(exc, prefect.PrefectException):
        return PrefectAPIError(f"Prefect failed: {type(exc).__name__}: {_first_line(exc)}")
    return None


def translate(exc: Exception) -> AADAPError | None:
    """``exc`` in the taxonomy, or None when nobody knows it (an internal error)."""
    if isinstance(exc, AADAPError):
        return exc
    if isinstance(exc, typer.BadParameter):
        return InvalidRequestError(exc.format_message())
    if isinstance(exc, OverflowError):
        return InvalidRequestError(f"a value is out of range: {_first_line(exc)}")
    translated = _translate_library(exc)
    if translated is not None:
        return translated
    if isinstance(exc, OSError):
        where = f" {exc.filename!r}" if exc.filename else ""
        return FileSystemError(f"cannot use{where}: {exc.strerror or _first_line(exc)}")
    return None


def handle(exc: Exception, ctx: typer.Context | None, *, task_id: str | None = None) -> NoReturn:
    """The boundary: translate, log what is not ours, print one line, exit. ``task_id``: the
    task the error belongs to, when the caller knows it (its ``task_logs`` hold the trail)."""
    command = (
        "aadap" if ctx is None else f"{ctx.command_path} {ctx.invoked_subcommand or ''}".strip()
    )
    error = translate(exc)
    if debugging(ctx):
        _err.print("".join(traceback.format_exception(exc)), markup=False, highlight=False)
    if error is None or error is not exc:
        logged = write_traceback(exc, command)
        if error is None:
            task = task_id or exc_task(exc)
            hint = f"`aadap logs {task} --level ERROR` and " if task else ""
            error = InternalError(
                f"unexpected {type(exc).__name__}: {_first_line(exc)}; "
                f"the traceback is in {hint}{logged} (AADAP_DEBUG=1 prints it here)",
                details={"log": str(logged)},
            )
    report(error)


def exc_task(exc: BaseException) -> str | None:
    task_id = getattr(exc, "task_id", None)
    return None if task_id is None else str(task_id)


class BoundaryGroup(TyperGroup):
    """The ``aadap`` group: runs each command inside :func:`handle`."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except typer.BadParameter as exc:
            handle(exc, ctx)
        except typer.TyperException:
            raise  # usage errors (unknown option or command): typer explains them itself
        except BrokenPipeError:
            raise  # the reader went away (`aadap … | head`): typer exits quietly
        except Exception as exc:  # noqa: BLE001 - the CLI's one boundary: translated and reported
            handle(exc, ctx)


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "VERBOSE",
    "BoundaryGroup",
    "debugging",
    "exit_status",
    "handle",
    "report",
    "translate",
    "write_traceback",
]
