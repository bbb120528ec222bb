"""Error translation and the retry helper shared by the remote platforms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aadap.core.enums import PlatformKind
from aadap.core.exceptions import (
    AADAPError,
    DeploymentFailedError,
    PlatformAuthenticationError,
    PlatformConnectionError,
    PlatformRateLimitError,
    PlatformTimeoutError,
)
from aadap.platforms._http import error_for_status, parse_retry_after, with_retries
from tests.platforms.conftest import FakeTime


def test_parse_retry_after() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, PlatformAuthenticationError),
        (403, PlatformAuthenticationError),
        (429, PlatformRateLimitError),
        (408, PlatformTimeoutError),
        (504, PlatformTimeoutError),
        (500, PlatformConnectionError),
        (503, PlatformConnectionError),
        (400, DeploymentFailedError),
        (404, DeploymentFailedError),
        (409, DeploymentFailedError),
    ],
)
def test_error_for_status(status: int, cls: type[AADAPError]) -> None:
    exc = error_for_status(
        status, platform=PlatformKind.FABRIC, operation="op", message="m", retry_after=2
    )
    assert type(exc) is cls
    assert exc.details == {
        "platform": "fabric",
        "operation": "op",
        "status_code": status,
        "retry_after": 2,
    }
    assert exc.message == f"fabric op failed with HTTP {status}: m"


async def test_with_retries_is_bounded_and_skips_permanent_errors(fake_time: FakeTime) -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise PlatformConnectionError("down")
        return "ok"

    assert await with_retries(flaky, sleep=fake_time.sleep, attempts=3) == "ok"
    assert fake_time.sleeps == [0.5, 1.0]

    async def denied() -> str:
        calls.append(1)
        raise PlatformAuthenticationError("no")

    calls.clear()
    with pytest.raises(PlatformAuthenticationError):
        await with_retries(denied, sleep=fake_time.sleep, attempts=5)
    assert len(calls) == 1

    async def unknown() -> str:
        calls.append(1)
        raise KeyError("bug")

    calls.clear()
    with pytest.raises(KeyError):
        await with_retries(unknown, sleep=fake_time.sleep, attempts=5)
    assert len(calls) == 1
