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
from aadap.platforms._http import (
    ambiguous_write,
    error_for_status,
    error_for_transport,
    parse_retry_after,
    resend_is_safe,
    with_retries,
)
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


@pytest.mark.parametrize(
    ("error", "safe"),
    [
        (error_for_status(429, platform=PlatformKind.FABRIC, operation="o", message="m"), True),
        (error_for_status(503, platform=PlatformKind.FABRIC, operation="o", message="m"), True),
        (error_for_status(500, platform=PlatformKind.FABRIC, operation="o", message="m"), False),
        (error_for_status(504, platform=PlatformKind.FABRIC, operation="o", message="m"), False),
        (error_for_status(400, platform=PlatformKind.FABRIC, operation="o", message="m"), False),
        (
            error_for_transport(
                OSError(), platform=PlatformKind.FABRIC, operation="o", timed_out=False, sent=False
            ),
            True,
        ),
        (
            error_for_transport(
                OSError(), platform=PlatformKind.FABRIC, operation="o", timed_out=True, sent=True
            ),
            False,
        ),
    ],
)
def test_a_write_is_resent_only_when_it_certainly_did_not_take_effect(
    error: AADAPError, safe: bool
) -> None:
    assert resend_is_safe(error) is safe


async def test_retry_after_is_waited_in_full_up_to_max_wait(fake_time: FakeTime) -> None:
    calls: list[int] = []

    async def throttled() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise PlatformRateLimitError("slow down", details={"retry_after": 240.0})
        return "ok"

    assert await with_retries(throttled, sleep=fake_time.sleep, max_wait=300) == "ok"
    assert fake_time.sleeps == [240.0]

    calls.clear()
    with pytest.raises(PlatformRateLimitError):
        await with_retries(throttled, sleep=fake_time.sleep, max_wait=60)
    assert len(calls) == 1  # longer than allowed: raised at once, not shortened


async def test_an_ambiguous_write_becomes_a_non_retryable_error() -> None:
    cause = PlatformTimeoutError("read timed out", details={"request_sent": True})
    error = ambiguous_write(cause, what="the statement")
    assert isinstance(error, DeploymentFailedError) and not error.retryable
    assert error.details == {"request_sent": True, "ambiguous": True, "cause": "PLATFORM_TIMEOUT"}
    assert "may or may not have taken effect" in error.message
