"""The local engine's runtime sandbox: a second line behind the safety analysis.

The analysis judges code before it is approved; what it cannot see (a path or a setting
built at run time, an evasive call) meets these limits when the code runs.

**SQL** (DuckDB, every connection the local platform opens):

* ``enable_external_access`` is off. The only exceptions are the workspace
  (``allowed_directories``: the platform's run folder, where ``COPY … TO`` may write) and
  the files the approved script names literally in a statement that reads them
  (``allowed_paths``): files that exist, not under the system and credential folders
  (``/etc``, ``/proc``, ``~/.ssh``, ``~/.aws``, …) nor in the DuckDB file's own folder
  (``AADAP_HOME``: the application database, Prefect's state) outside the workspace, and,
  if ``AADAP_PLATFORMS_LOCAL_DATA_ROOTS`` is set, under one of those folders. So a path
  computed at run time, ``COPY … TO``/``EXPORT DATABASE``/``ATTACH`` elsewhere, a remote
  URL, ``INSTALL``/``LOAD`` of an extension are refused by DuckDB itself.
* ``memory_limit`` and ``threads`` come from settings; extensions are neither installed
  nor loaded automatically.
* ``lock_configuration`` is set last: ``SET``/``RESET``/``PRAGMA`` of any setting fails.
* A script running longer than ``AADAP_PLATFORMS_LOCAL_SQL_TIMEOUT_SECONDS`` is
  interrupted (``PlatformTimeoutError``).

**Python** (``_sandbox_child.py`` starts the script in a subprocess):

* the environment is rebuilt from a short allow-list (``PATH``, locale, time zone, Java
  and Spark homes): no ``AADAP_*`` or any other credential reaches the code, only its
  parameters in ``AADAP_RUN_PARAMETERS``; ``HOME``, ``TMPDIR`` and the working directory
  are the run's own folder in the workspace;
* ``python -I`` (no ``PYTHON*`` variables, no user site), then resource limits the code
  cannot raise again: address space, CPU seconds, size of a written file, no core dump;
* an audit hook (PEP 578), installed before the code runs, refuses writing, creating,
  renaming or deleting a file outside the workspace, and, unless
  ``AADAP_PLATFORMS_LOCAL_PYTHON_NETWORK`` is true, opening an internet socket, resolving
  a host name, starting a process (which would run without the hook) and loading a native
  library through ``ctypes`` (which could call the C library directly).

Limits of the Python sandbox: an audit hook is not a kernel boundary. Code that gets hold
of native code another way (a compiled extension module of its own), or starts a process
through a path with no audit event (``multiprocessing`` with the ``spawn`` start method),
can bypass it;
the analysis, the approval and these limits together are the defence, not any one alone.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from aadap.core.config import PlatformSettings
from aadap.platforms._csv_inputs import named_files

CHILD = Path(__file__).with_name("_sandbox_child.py")
#: statement kinds that only read the files they name
_READING = {"SELECT", "CREATE", "INSERT", "UPDATE", "DELETE", "MERGE_INTO"}
_COPY_FROM = re.compile(r"\s*COPY\s+[^\s(]+(?:\s*\([^)]*\))?\s+FROM\s", re.IGNORECASE)
_SYSTEM = tuple(Path(p) for p in ("/etc", "/proc", "/sys", "/dev", "/boot", "/run", "/var/run"))
_CREDENTIALS = (
    ".ssh", ".aws", ".azure", ".config", ".kube", ".gnupg", ".docker", ".netrc", ".pgpass",
    ".databrickscfg", ".git-credentials",
)  # fmt: skip
FILE_SIZE_LIMIT_BYTES = 1 << 30
_KEPT_ENV = (
    "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT",
    "JAVA_HOME", "SPARK_HOME", "PYSPARK_PYTHON", "VIRTUAL_ENV",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SqlLimits:
    """What a DuckDB connection of the local platform may use."""

    workspace: Path
    threads: int
    memory_limit_mb: int
    timeout_seconds: float
    lock_timeout_seconds: float
    data_roots: tuple[Path, ...] = ()
    #: folders whose files are never readable (AADAP's home: its database, its keys)
    private: tuple[Path, ...] = ()

    @classmethod
    def of(cls, settings: PlatformSettings, workspace: Path, home: Path) -> SqlLimits:
        return cls(
            workspace=workspace.absolute(),
            private=(home.resolve(),),
            threads=settings.local_threads,
            memory_limit_mb=settings.local_memory_limit_mb,
            timeout_seconds=settings.local_sql_timeout_seconds,
            lock_timeout_seconds=settings.local_lock_timeout_seconds,
            data_roots=tuple(root.expanduser().resolve() for root in settings.local_data_roots),
        )

    def readable(self, sql: str) -> list[str]:
        """The files ``sql`` names literally that it may read (see the module docstring):
        named in a statement that reads (never a ``COPY … TO``, ``EXPORT`` or ``ATTACH``
        target: DuckDB's ``allowed_paths`` would let it write there too), outside the
        system and credential folders and AADAP's own home, and under a data root if any
        is set."""
        try:
            with duckdb.connect() as con:
                statements = con.extract_statements(sql)
        except duckdb.Error:
            return []  # the run reports the syntax error
        read: dict[Path, None] = {}
        other: set[Path] = set()  # named where they may be written: never allowed
        for statement in statements:
            kind = str(getattr(statement.type, "name", statement.type))
            named = named_files(statement.query)
            if kind in _READING or (kind == "COPY" and _COPY_FROM.match(statement.query)):
                read.update(dict.fromkeys(named))
            else:
                other.update(named)
        written = other | {f.resolve() for f in other}
        allowed: dict[str, None] = {}
        for path in read:
            real = path.resolve()
            if path not in written and real not in written and self._may_read(real):
                allowed.update(dict.fromkeys((str(path), str(real))))
        return list(allowed)

    def _may_read(self, path: Path) -> bool:
        """Whether ``path`` (resolved) may be read."""
        if path.is_relative_to(self.workspace.resolve()):
            return True
        if any(path.is_relative_to(p) for p in (*_never_readable(), *self.private)):
            return False
        return not self.data_roots or any(path.is_relative_to(r) for r in self.data_roots)


def _never_readable() -> tuple[Path, ...]:
    home = Path.home()
    return (*_SYSTEM, *(home / name for name in _CREDENTIALS))


def confine(con: Any, limits: SqlLimits, readable: Sequence[str] = ()) -> None:
    """Apply the SQL sandbox to a fresh connection; its settings are locked afterwards."""
    limits.workspace.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET threads = {int(limits.threads)}")
    con.execute(f"SET memory_limit = '{int(limits.memory_limit_mb)}MB'")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    # the workspace as written and resolved (DuckDB compares paths as the script writes
    # them), each with a trailing separator: DuckDB matches directory prefixes
    forms = dict.fromkeys((limits.workspace, limits.workspace.resolve()))
    con.execute("SET allowed_directories = $dirs", {"dirs": [f"{d}{os.sep}" for d in forms]})
    con.execute("SET allowed_paths = $paths", {"paths": list(readable)})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def python_command(script: Path, settings: PlatformSettings, workspace: Path) -> list[str]:
    """``python -I _sandbox_child.py CONFIG script``: the child applies the limits, then
    runs ``script`` as ``__main__``."""
    config = {
        "write_roots": [str(workspace.resolve())],
        "network": settings.local_python_network,
        "memory_bytes": settings.local_memory_limit_mb << 20,
        "cpu_seconds": int(settings.local_python_timeout_seconds) + 1,
        "file_bytes": FILE_SIZE_LIMIT_BYTES,
    }
    return [sys.executable, "-I", str(CHILD), json.dumps(config), str(script)]


def python_env(rundir: Path, parameters: Mapping[str, str] | None) -> dict[str, str]:
    """The child's whole environment: the allow-list, its own folders, its parameters."""
    env = {name: os.environ[name] for name in _KEPT_ENV if name in os.environ}
    tmp = rundir / "tmp"
    tmp.mkdir(exist_ok=True)
    env.update(
        {
            "HOME": str(rundir),
            "TMPDIR": str(tmp),
            "PYTHONIOENCODING": "utf-8",
            "AADAP_RUN_PARAMETERS": json.dumps(dict(parameters or {})),
        }
    )
    return env


__all__ = ["SqlLimits", "confine", "python_command", "python_env"]
