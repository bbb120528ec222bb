"""Which runtime (settings, database, LLM client) the current flow run uses.

A flow run binds its :class:`~aadap.services.runtime.Runtime` in a context
variable that its task runs inherit, so task hooks write through the same
database. Tests and embedders inject their own runtime or LLM client with
:func:`use_runtime` / :func:`use_llm`; nothing is built at import time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar

from aadap.core.config import Settings, load_settings
from aadap.db import migrate
from aadap.db.session import Database
from aadap.llm import build_client
from aadap.llm.types import LLMClient
from aadap.orchestration import secret_blocks
from aadap.services.runtime import Runtime

_runtime: ContextVar[Runtime | None] = ContextVar("aadap_runtime", default=None)
_llm_override: ContextVar[LLMClient | None] = ContextVar("aadap_llm_override", default=None)
_task_of_flow_run: dict[str, uuid.UUID] = {}


@contextmanager
def use_runtime(rt: Runtime) -> Iterator[Runtime]:
    token = _runtime.set(rt)
    try:
        yield rt
    finally:
        _runtime.reset(token)


@contextmanager
def use_llm(client: LLMClient) -> Iterator[LLMClient]:
    """Run lifecycles in this context with ``client`` (e.g. a scripted test double)."""
    token = _llm_override.set(client)
    try:
        yield client
    finally:
        _llm_override.reset(token)


def current() -> Runtime | None:
    return _runtime.get()


@asynccontextmanager
async def open_runtime(settings: Settings | None = None) -> AsyncIterator[Runtime]:
    """The bound runtime if there is one, else a new one owned (and disposed) by this block."""
    bound = _runtime.get()
    if bound is not None:
        yield bound
        return
    settings = settings or load_settings()
    db = Database(settings)
    # A worker may be the first process to touch this database: bring it to the newest schema.
    await migrate.ensure_schema(db.engine)
    llm = _llm_override.get() or build_client(settings.llm)
    rt = Runtime.build(settings, db, llm, secret_blocks=secret_blocks.load_secret)
    try:
        with use_runtime(rt):
            yield rt
    finally:
        await db.dispose()


@asynccontextmanager
async def database_for_hooks() -> AsyncIterator[Database]:
    """A database for hooks that may run outside any run context (crash, cancellation)."""
    bound = _runtime.get()
    if bound is not None:
        yield bound.db
        return
    db = Database(load_settings())
    try:
        yield db
    finally:
        await db.dispose()


def remember_flow_run(flow_run_id: str, task_id: uuid.UUID) -> None:
    _task_of_flow_run[flow_run_id] = task_id


def task_of_flow_run(flow_run_id: str | None) -> uuid.UUID | None:
    return None if flow_run_id is None else _task_of_flow_run.get(flow_run_id)


def forget_flow_run(flow_run_id: str) -> None:
    _task_of_flow_run.pop(flow_run_id, None)
