"""The local platform: SQL on a DuckDB file, Python in a subprocess. No network, no cost.

Runs are synchronous under the hood: :meth:`LocalPlatform.submit` runs the
code to completion and keeps the result, so ``poll`` and ``fetch_output``
answer from memory (for this platform instance) and ``cancel`` has nothing
left to stop.

* **SQL** runs on ``duckdb.connect(database_path)`` in a worker thread, one process
  at a time per file (a lock beside it, bounded wait: ``PlatformBusyError``); DML and
  CREATE TABLE AS report ``rows_affected`` (DuckDB's counts), a query reports a
  preview of its first rows and its ``row_count``. Parameters bind to DuckDB's
  named parameters (``$name``). CSV files the script names are checked first
  (``_inputs``: ``InvalidDataError``).
* **Python / PySpark** run in a subprocess in a fresh directory under ``workdir``,
  with ``local_python_timeout_seconds`` (the process group is killed on timeout →
  ``PlatformTimeoutError``). Parameters arrive as JSON in the ``AADAP_RUN_PARAMETERS``
  environment variable, the only variable besides a short allow-list. PySpark code
  fails here unless ``pyspark`` is installed (and network is allowed); the run is then
  FAILED with Python's error.
* Both run inside the runtime sandbox of ``_sandbox.py`` (files, network, settings,
  memory, threads, time).
* **Scala** cannot run locally: ``InvalidConfigurationError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from aadap.core.config import PlatformSettings
from aadap.core.enums import ExecutionStatus, Language, PlatformKind
from aadap.core.exceptions import (
    InvalidConfigurationError,
    PlatformConnectionError,
    PlatformTimeoutError,
)
from aadap.platforms import _duckdb, _sandbox
from aadap.platforms._lifecycle import BasePlatform
from aadap.platforms.protocol import Clock, RunHandle, RunResult, Sleep, TableInfo, utcnow

OUTPUT_LIMIT_CHARS = 64_000
ERROR_TAIL_CHARS = 4_000


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


class LocalPlatform(BasePlatform):
    kind = PlatformKind.LOCAL

    def __init__(
        self,
        database_path: Path,
        workdir: Path,
        settings: PlatformSettings,
        *,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, sleep=sleep, clock=clock)
        self.database_path = Path(database_path)
        self.workdir = Path(workdir)
        self._results: dict[str, RunResult] = {}
        self._sql_lock = asyncio.Lock()
        self._limits = _sandbox.SqlLimits.of(settings, self.workdir, self.database_path.parent)

    def __repr__(self) -> str:
        return f"LocalPlatform(database_path={str(self.database_path)!r}, workdir={str(self.workdir)!r})"

    # --- submit -------------------------------------------------------------------

    async def submit(
        self,
        code: str,
        *,
        language: Language,
        parameters: Mapping[str, str] | None = None,
        name: str,
    ) -> RunHandle:
        run_id = uuid.uuid4().hex
        submitted_at = utcnow()
        started = self._clock()
        if language is Language.SQL:
            result = await self._run_sql(code, parameters)
        elif language in (Language.PYTHON, Language.PYSPARK):
            result = await self._run_python(code, parameters, run_id=run_id, name=name)
        else:
            raise InvalidConfigurationError(
                f"the local platform cannot run {language.value}; it runs sql (DuckDB), python "
                "and pyspark (subprocess). Route Scala to a databricks or fabric connection.",
                details={"field": "language", "value": language.value, "platform": self.kind.value},
            )
        result = replace(
            result, duration_ms=self._elapsed_ms(started), raw={**result.raw, "name": name}
        )
        self._results[run_id] = result
        return RunHandle(
            platform=self.kind, run_id=run_id, language=language, submitted_at=submitted_at
        )

    async def _run_sql(self, code: str, parameters: Mapping[str, str] | None) -> RunResult:
        self.database_path.parent.mkdir(parents=True, exist_ok=True)
        async with self._sql_lock:
            outcome = await asyncio.to_thread(
                _duckdb.execute_sql, self.database_path, code, parameters, self._limits
            )
        raw: dict[str, Any] = {
            "statements": outcome.statements,
            "database": str(self.database_path),
        }
        status = ExecutionStatus.FAILED if outcome.error else ExecutionStatus.SUCCESS
        summary = []
        if outcome.rows_affected is not None:
            summary.append(f"{outcome.rows_affected} row(s) affected")
        if outcome.row_count is not None:
            summary.append(f"{outcome.row_count} row(s) returned")
        return RunResult(
            status=status,
            output="; ".join(summary),
            columns=outcome.columns,
            rows=outcome.rows,
            row_count=outcome.row_count,
            rows_affected=outcome.rows_affected,
            error=outcome.error,
            raw=raw,
        )

    async def _run_python(
        self, code: str, parameters: Mapping[str, str] | None, *, run_id: str, name: str
    ) -> RunResult:
        rundir = self.workdir / f"run-{run_id}"
        rundir.mkdir(parents=True, exist_ok=False)
        script = rundir / "main.py"
        script.write_text(code, encoding="utf-8")
        timeout = self.settings.local_python_timeout_seconds
        try:
            proc = await asyncio.create_subprocess_exec(
                *_sandbox.python_command(script, self.settings, self.workdir),
                cwd=rundir,
                env=_sandbox.python_env(rundir, parameters),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise PlatformConnectionError(
                f"could not start {sys.executable}: {exc}", details={"platform": self.kind.value}
            ) from exc
        stdout_b, stderr_b = bytearray(), bytearray()
        assert proc.stdout is not None and proc.stderr is not None  # PIPE above
        readers = asyncio.gather(_drain(proc.stdout, stdout_b), _drain(proc.stderr, stderr_b))
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
                await asyncio.shield(readers)  # a timeout must not cancel the readers
        except asyncio.CancelledError:
            _kill_group(proc)  # the caller gave up (e.g. a cancelled flow): do not leave it running
            raise
        except TimeoutError:
            _kill_group(proc)
            await proc.wait()
            await readers  # the killed group closed its pipes: this reaches EOF
            raise PlatformTimeoutError(
                f"local python run {name!r} exceeded {timeout:g}s and was killed",
                details={
                    "platform": self.kind.value,
                    "run_id": run_id,
                    "timeout_seconds": timeout,
                    "stdout_tail": _tail(stdout_b.decode("utf-8", "replace"), ERROR_TAIL_CHARS),
                    "stderr_tail": _tail(stderr_b.decode("utf-8", "replace"), ERROR_TAIL_CHARS),
                },
            ) from None
        stdout = stdout_b.decode("utf-8", "replace")
        stderr = stderr_b.decode("utf-8", "replace")
        code_ = proc.returncode
        failed = code_ != 0
        return RunResult(
            status=ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCESS,
            output=_tail(stdout, OUTPUT_LIMIT_CHARS),
            error=(
                f"exit code {code_}: {_tail(stderr.strip(), ERROR_TAIL_CHARS) or 'no stderr'}"
                if failed
                else None
            ),
            raw={
                "exit_code": code_,
                "stderr": _tail(stderr, ERROR_TAIL_CHARS),
                "workdir": str(rundir),
            },
        )

    # --- the rest of the protocol -------------------------------------------------

    def _stored(self, handle: RunHandle) -> RunResult:
        try:
            return self._results[handle.run_id]
        except KeyError:
            raise InvalidConfigurationError(
                f"unknown local run {handle.run_id!r}: local results live in the platform "
                "instance that ran them",
                details={"field": "run_id", "value": handle.run_id, "platform": self.kind.value},
            ) from None

    async def poll(self, handle: RunHandle) -> RunResult:
        return self._stored(handle)

    async def fetch_output(self, handle: RunHandle) -> RunResult:
        return self._stored(handle)

    async def cancel(self, handle: RunHandle) -> None:
        """Local runs finish inside :meth:`submit`; like cancelling a finished remote run, a no-op."""
        self._stored(handle)

    async def test_connection(self) -> float:
        started = self._clock()
        result = await self._run_sql("SELECT 1 AS ok", None)
        if result.error:
            raise PlatformConnectionError(
                f"local DuckDB at {self.database_path} is not usable: {result.error}",
                details={"platform": self.kind.value, "database": str(self.database_path)},
            )
        return (self._clock() - started) * 1000.0

    async def list_tables(self) -> list[str]:
        if not self.database_path.exists():
            return []
        async with self._sql_lock:
            return await asyncio.to_thread(_duckdb.list_tables, self.database_path, self._limits)

    async def table_info(self, names: Sequence[str]) -> list[TableInfo]:
        """Existence and exact row counts of base tables, from the engine (one connection)."""
        if not names:
            return []
        if not self.database_path.exists():
            return [TableInfo(name=name, exists=False) for name in names]
        async with self._sql_lock:
            return await asyncio.to_thread(
                _duckdb.table_info, self.database_path, names, self._limits
            )

    async def schema(self) -> dict[str, list[str]]:
        """Column names of every table and view (the agents' schema hints)."""
        if not self.database_path.exists():
            return {}
        async with self._sql_lock:
            return await asyncio.to_thread(_duckdb.schema, self.database_path, self._limits)

    async def table_columns(self, table: str) -> list[dict[str, str]]:
        """``[{"name", "type"}]`` of ``table``; empty when it does not exist."""
        if not self.database_path.exists():
            return []
        async with self._sql_lock:
            return await asyncio.to_thread(
                _duckdb.table_columns, self.database_path, table, self._limits
            )


async def _drain(stream: asyncio.StreamReader, sink: bytearray) -> None:
    while chunk := await stream.read(65536):
        sink.extend(chunk)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    # ProcessLookupError: it exited between the timeout and the kill; nothing left to stop.
    with contextlib.suppress(ProcessLookupError):
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()


__all__ = ["LocalPlatform"]
