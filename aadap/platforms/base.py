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

from collections.abc import Awaitable, Callable, Mapping
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
    "utcnow",
]
