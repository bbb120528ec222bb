"""The platform protocol and its value types.

A platform runs code (SQL, Python, PySpark, Scala) somewhere and reports back.
Every platform has the same small surface: ``submit`` returns a
:class:`RunHandle` at once, ``poll`` checks the status once, ``wait`` polls
with exponential backoff until the run is terminal, ``fetch_output`` reads the
result of a terminal run, ``cancel`` stops it, and ``run`` is submit + wait +
"raise if it failed". Implementations raise only taxonomy errors
(:mod:`aadap.core.exceptions`): ``Platform*Error`` for transport problems,
``DeploymentFailedError`` when the platform ran the code and it failed or
rejected the request, ``ConfigurationError`` for bad connection settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from aadap.core.enums import ExecutionStatus, Language, PlatformKind

Sleep = Callable[[float], Awaitable[None]]
"""An awaitable sleep (``asyncio.sleep``); tests inject one that records and returns at once."""

Clock = Callable[[], float]
"""A monotonic clock in seconds (``time.monotonic``); tests inject a fake one."""

TERMINAL_STATUSES = frozenset(
    {ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)

PREVIEW_ROWS = 50
"""How many result rows a :class:`RunResult` carries at most."""


@dataclass(frozen=True, slots=True)
class RunHandle:
    """Where a submitted run can be found again.

    ``run_id`` is the platform's own id (a Databricks statement id or job run id,
    a Fabric job instance id, a local uuid). ``extra`` holds the few other ids a
    platform needs to find the run (a Fabric notebook item id, whether a
    Databricks run is a SQL statement or a job run). Handles are plain data and
    round-trip through :meth:`to_dict` / :meth:`from_dict`, so they can be
    persisted and polled from another process.
    """

    platform: PlatformKind
    run_id: str
    language: Language
    submitted_at: datetime
    url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform.value,
            "run_id": self.run_id,
            "language": self.language.value,
            "submitted_at": self.submitted_at.isoformat(),
            "url": self.url,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunHandle:
        return cls(
            platform=PlatformKind(data["platform"]),
            run_id=str(data["run_id"]),
            language=Language(data["language"]),
            submitted_at=datetime.fromisoformat(data["submitted_at"]),
            url=data.get("url"),
            extra={str(k): str(v) for k, v in (data.get("extra") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run produced (or how far it got, for a non-terminal poll).

    ``output`` is text (stdout, a notebook exit value, a status summary);
    ``columns`` and ``rows`` are a JSON-safe preview of at most
    :data:`PREVIEW_ROWS` rows of the last query; ``row_count`` counts all its
    rows when the platform reports it. ``rows_affected`` is set for DML and
    CREATE TABLE AS. ``error`` is the platform's own message for a failed run.
    ``raw`` keeps platform metadata (states, ids, exit codes) for the audit trail.
    """

    status: ExecutionStatus
    output: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_count: int | None = None
    rows_affected: int | None = None
    error: str | None = None
    run_url: str | None = None
    duration_ms: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status is ExecutionStatus.SUCCESS


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What a platform says cheaply about one table that code names (the approval form).

    ``exists`` is ``None`` when the platform could not tell; ``rows`` is ``None`` when it
    does not count rows cheaply (a remote platform, a view) or the table does not exist.
    ``found_as`` is the platform's own full name of the table that matched ``name``.
    """

    name: str
    exists: bool | None
    rows: int | None = None
    found_as: str | None = None


def _parts(name: str) -> tuple[str, ...]:
    cleaned = name.strip().translate(str.maketrans("", "", '`"[]')).lower()
    return tuple(part.strip() for part in cleaned.split(".") if part.strip())


def same_table(name: str, listed: str) -> bool:
    """Whether ``name`` (as code writes it) is the platform's ``listed`` table: case and
    quotes ignored, qualifiers compared from the right (``orders`` is ``main.sales.orders``)."""
    a, b = _parts(name), _parts(listed)
    if not a or not b:
        return False
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return longer[len(longer) - len(shorter) :] == shorter


def tables_from_listing(names: Sequence[str], listed: Sequence[str]) -> list[TableInfo]:
    """:class:`TableInfo` for ``names`` from a table listing: existence, no row counts."""
    out = []
    for name in names:
        match = next((t for t in listed if same_table(name, t)), None)
        out.append(TableInfo(name=name, exists=match is not None, found_as=match))
    return out


def utcnow() -> datetime:
    return datetime.now(UTC)


@runtime_checkable
class Platform(Protocol):
    """What services call to run code. See the module docstring for the error contract."""

    kind: PlatformKind

    async def submit(
        self,
        code: str,
        *,
        language: Language,
        parameters: Mapping[str, str] | None = None,
        name: str,
    ) -> RunHandle:
        """Start a run and return at once (the local platform runs it to completion first)."""
        ...

    async def poll(self, handle: RunHandle) -> RunResult:
        """Check the run's status once; the result may be non-terminal."""
        ...

    async def wait(
        self,
        handle: RunHandle,
        *,
        # the platform-side run timeout (it cancels the remote run), not a local await timeout
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> RunResult:
        """Poll with backoff until terminal and return :meth:`fetch_output`.

        After ``timeout`` seconds (default: ``run_timeout_seconds``) the run is
        cancelled and ``PlatformTimeoutError`` is raised.
        """
        ...

    async def fetch_output(self, handle: RunHandle) -> RunResult:
        """The full result (output, preview rows, error) of a run."""
        ...

    async def cancel(self, handle: RunHandle) -> None:
        """Ask the platform to stop the run; cancelling a finished run does nothing."""
        ...

    async def test_connection(self) -> float:
        """Check credentials and reachability; return the latency in milliseconds."""
        ...

    async def list_tables(self) -> list[str]:
        """Tables visible to runs (used for schema hints and "does it exist" checks)."""
        ...

    async def table_info(self, names: Sequence[str]) -> list[TableInfo]:
        """Whether each of ``names`` exists, and its row count where that is cheap to know
        (the local engine counts; remote platforms answer from their table listing)."""
        ...

    async def run(
        self,
        code: str,
        *,
        language: Language,
        parameters: Mapping[str, str] | None = None,
        name: str,
        timeout: float | None = None,  # noqa: ASYNC109 (remote run timeout, see wait)
    ) -> RunResult:
        """Submit, wait, and raise ``DeploymentFailedError`` unless the run succeeded."""
        ...

    async def aclose(self) -> None:
        """Release HTTP clients and threads."""
        ...


__all__ = [
    "PREVIEW_ROWS",
    "TERMINAL_STATUSES",
    "Clock",
    "Platform",
    "RunHandle",
    "RunResult",
    "Sleep",
    "TableInfo",
    "same_table",
    "tables_from_listing",
    "utcnow",
]
