"""Shared CLI plumbing: one place turns AADAP errors into messages and exit codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from aadap.core.config import Settings, load_settings
from aadap.core.exceptions import (
    AADAPError,
    ConfigurationError,
    InvalidRequestError,
)

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(exc: AADAPError) -> NoReturn:
    code = (
        EXIT_BAD_INPUT
        if isinstance(exc, InvalidRequestError | ConfigurationError)
        else EXIT_FAILURE
    )
    err.print("error", style="bold red", end=" ")
    err.print(f"[{exc.error_code}] {exc.message}", markup=False, highlight=False)
    raise typer.Exit(code)


def bad_input(option: str, value: object, allowed: str) -> NoReturn:
    fail(
        InvalidRequestError(
            f"{option}={value!r} is not valid; allowed: {allowed}", details={"field": option}
        )
    )


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        fail(exc)


def run_async(fn: Callable[[], Coroutine[Any, Any, T]] | Callable[[], Awaitable[T]]) -> T:
    """The CLI's single entry into asyncio; AADAP errors become messages and exit codes."""
    try:
        return asyncio.run(fn())  # type: ignore[arg-type]
    except AADAPError as exc:
        fail(exc)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, sort_keys=True))
