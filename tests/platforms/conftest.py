"""Fixtures for the platform tests: fake time, settings that allow loopback, the fake servers."""

from __future__ import annotations

import pytest

from aadap.core.config import PlatformSettings


class FakeTime:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def settings() -> PlatformSettings:
    return PlatformSettings(
        allowed_hosts=["127.0.0.1"],
        poll_interval_seconds=1.0,
        poll_max_interval_seconds=4.0,
        run_timeout_seconds=60.0,
        http_timeout_seconds=5.0,
        local_python_timeout_seconds=20.0,
    )
