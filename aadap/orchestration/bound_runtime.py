"""Which runtime (settings, database, LLM client) the current flow run uses.

A flow run binds its :class:`~aadap.services.runtime.Runtime` in a context
variable that its task runs inherit, so task hooks write through the same
database. Tests and embedders inject their own runtime or LLM client with
:func:`use_runtime` / :func:`use_llm`; nothing is built at import time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from contextvars import ContextVar

from aadap.agents.client import build_client
from aadap.core.config import Settings, load_settings
from aadap.core.scoping import scoped
from aadap.db import migrate
from aadap.db.session import Database
from aadap.llm.messages import LLMClient
from aadap.orchestration import secret_blocks
from aadap.services.runtime import Runtime

_runtime: ContextVar[Runtime | None] = ContextVar("aadap_runtime", default=None)
_llm_override: ContextVar[LLMClient | None] = ContextVar("aadap_llm_override", default=None)
_task_of_flow_run: dict[str, uuid.UUID] = {}


def use_runtime(rt: Runtime) -> AbstractContextManager[None]:
    return scoped(_runtime, rt)


def use_llm(client: LLMClient) -> AbstractContextManager[None]:
    """Run lifecycles in this context with ``client`` (e.g. a scripted test double)."""
    return scoped(_llm_override, client)


def current() -> Runtime | None:
    return _runtime.get()


@asynccontextmanager
async def open_runtime(
    settings: Settings | None = None, *, hand_over_to: str | None = None
) -> AsyncIterator[Runtime]:
    """The bound runtime if there is one, else a new one owned (and disposed) by this block.

    ``hand_over_to``: a flow run id whose completion or failure hook will run next in
    this event loop. When the block ends normally or with an ordinary exception, the
    runtime is handed to that hook (:func:`database_for_hooks`), which writes through
    it and disposes it, instead of building a second engine and its connections for
    one log row. Any other ending (cancellation, a pause, a crash) disposes it here.
    """
    bound = _runtime.get()
    if bound is not None:
        yield bound
        return
    settings = settings or load_settings()
    db = Database(settings)
    try:
        # A worker may be the first process to touch this database: bring it to the newest schema.
        await migrate.ensure_schema(db.engine)
        llm = _llm_override.get() or build_client(settings.llm)
        rt = Runtime.build(settings, db, llm, secret_blocks=secret_blocks.load_secret)
    except BaseException:
        await db.dispose()
        raise
    handed = False
    try:
        with use_runtime(rt):
            yield rt
    except Exception:
        handed = _hand_over(hand_over_to, rt)
        raise
    else:
        handed = _hand_over(hand_over_to, rt)
    finally:
        if not handed:
            await db.dispose()


_handed_over: dict[str, Runtime] = {}


def _hand_over(flow_run_id: str | None, rt: Runtime) -> bool:
    if flow_run_id is None:
        return False
    _handed_over[flow_run_id] = rt
    return True


@asynccontextmanager
async def database_for_hooks(flow_run_id: str | None = None) -> AsyncIterator[Database]:
    """A database for flow hooks: the bound runtime's, the one the run handed over
    (disposed here), or a new one for hooks that run outside any run context (a
    crash, a cancellation, another process)."""
    bound = _runtime.get()
    if bound is not None:
        yield bound.db
        return
    handed = None if flow_run_id is None else _handed_over.pop(flow_run_id, None)
    db = handed.db if handed is not None else Database(load_settings())
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
