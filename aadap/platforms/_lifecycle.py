"""What every platform shares: waiting with backoff, timeouts, and ``run``."""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn, Self

from aadap.core.config import PlatformSettings
from aadap.core.enums import ExecutionStatus, Language, PlatformKind
from aadap.core.exceptions import AADAPError, DeploymentFailedError, PlatformTimeoutError
from aadap.platforms.protocol import (
    Clock,
    RunHandle,
    RunResult,
    Sleep,
    TableInfo,
    tables_from_listing,
)


class BasePlatform(abc.ABC):
    """Implements :meth:`wait` and :meth:`run` on top of the abstract primitives.

    ``sleep`` and ``clock`` are injected (defaults: ``asyncio.sleep`` and
    ``time.monotonic``) so tests drive polling and retry backoff without
    sleeping for real.
    """

    kind: PlatformKind

    def __init__(
        self,
        settings: PlatformSettings,
        *,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self._sleep: Sleep = sleep or asyncio.sleep
        self._clock: Clock = clock or time.monotonic

    # --- the primitives each platform implements ------------------------------

    @abc.abstractmethod
    async def submit(
        self,
        code: str,
        *,
        language: Language,
        parameters: Mapping[str, str] | None = None,
        name: str,
    ) -> RunHandle: ...

    @abc.abstractmethod
    async def poll(self, handle: RunHandle) -> RunResult: ...

    @abc.abstractmethod
    async def fetch_output(self, handle: RunHandle) -> RunResult: ...

    @abc.abstractmethod
    async def cancel(self, handle: RunHandle) -> None: ...

    @abc.abstractmethod
    async def test_connection(self) -> float: ...

    @abc.abstractmethod
    async def list_tables(self) -> list[str]: ...

    async def table_info(self, names: Sequence[str]) -> list[TableInfo]:
        """Existence from one table listing; row counts unknown (counting rows on a remote
        platform starts compute: not cheap)."""
        return tables_from_listing(names, await self.list_tables()) if names else []

    async def aclose(self) -> None:  # noqa: B027 (optional hook: the local platform holds nothing)
        """Release resources; the default has none."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- shared behaviour -----------------------------------------------------

    def _elapsed_ms(self, started: float) -> int:
        return max(0, round((self._clock() - started) * 1000))

    async def wait(
        self,
        handle: RunHandle,
        *,
        # the platform-side run timeout (it cancels the remote run), not a local await timeout
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> RunResult:
        """Poll from ``poll_interval_seconds``, doubling up to ``poll_max_interval_seconds``."""
        limit = self.settings.run_timeout_seconds if timeout is None else timeout
        deadline = self._clock() + limit
        delay = self.settings.poll_interval_seconds
        while True:
            result = await self.poll(handle)
            if result.terminal:
                return await self.fetch_output(handle)
            remaining = deadline - self._clock()
            if remaining <= 0:
                await self._cancel_after_timeout(handle, limit, result)
            await self._sleep(min(delay, remaining))
            delay = min(delay * 2, self.settings.poll_max_interval_seconds)

    async def _cancel_after_timeout(
        self, handle: RunHandle, limit: float, last: RunResult
    ) -> NoReturn:
        details: dict[str, Any] = {
            "platform": handle.platform.value,
            "run_id": handle.run_id,
            "run_url": handle.url,
            "timeout_seconds": limit,
            "last_status": last.status.value,
            "cancelled": True,
        }
        try:
            await self.cancel(handle)
        except AADAPError as exc:
            # The timeout is the error to report; the failed cancel is recorded with it.
            details["cancelled"] = False
            details["cancel_error"] = str(exc)
        raise PlatformTimeoutError(
            f"{handle.platform.value} run {handle.run_id} did not finish within {limit:g}s "
            f"(last status {last.status.value}); "
            + ("it was cancelled" if details["cancelled"] else "cancelling it failed too"),
            details=details,
        )

    async def run(
        self,
        code: str,
        *,
        language: Language,
        parameters: Mapping[str, str] | None = None,
        name: str,
        timeout: float | None = None,  # noqa: ASYNC109 (remote run timeout, see wait)
    ) -> RunResult:
        """Submit, wait, and raise ``DeploymentFailedError`` for a FAILED or CANCELLED run."""
        handle = await self.submit(code, language=language, parameters=parameters, name=name)
        result = await self.wait(handle, timeout=timeout)
        if result.status is ExecutionStatus.SUCCESS:
            return result
        message = result.error or f"the run ended {result.status.value}"
        raise DeploymentFailedError(
            f"{handle.platform.value} run {name!r} ({handle.run_id}) {result.status.value}: {message}",
            details={
                "platform": handle.platform.value,
                "run_id": handle.run_id,
                "run_url": result.run_url or handle.url,
                "status": result.status.value,
                "platform_message": message,
                "language": language.value,
            },
        )


__all__ = ["BasePlatform"]
