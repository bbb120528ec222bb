"""A context variable set for the length of a block: the runtime, the run context, the
progress listener, the real-LLM allowance."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def scoped(var: ContextVar[T], value: T) -> Iterator[None]:
    """``var`` is ``value`` inside the block (and in tasks started from it), and what it
    was before once the block ends, however it ends."""
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


__all__ = ["scoped"]
