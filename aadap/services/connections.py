"""Platform connections: add, list, show, test (:func:`probe`), rotate, remove, set-default, rekey.

A connection is a name, a platform (``databricks``, ``fabric``, ``local``), its
non-secret settings as JSON (validated per platform by the ``*Settings`` models of
:mod:`aadap.services.connection_settings`; workspace and API URLs must be https on the
platform's domains unless the host is in ``AADAP_PLATFORMS_ALLOWED_HOSTS``) and one
secret, the one its ``auth_method`` needs: a Databricks personal access token
(``pat``) or OAuth/Entra client secret (``oauth-m2m``, ``azure-client-secret``), a
Fabric client secret (``client-secret``), encrypted with ``AADAP_SECRET_KEY``
(:class:`~aadap.services.secrets.Keyring`) or held by reference (``env:NAME``,
``prefect-secret:BLOCK``). Local connections and Fabric ``managed-identity`` ones have
no secret. A test (:func:`probe`) reports the auth method it used.

Every write is one transaction with its audit row in ``task_logs`` (task_id NULL),
so a rejected request leaves nothing behind. What is returned and logged is a
:class:`ConnectionInfo`: the secret shows as its hint (at most four characters).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.config import Settings
from aadap.core.enums import ConnectionStatus, LogLevel, PlatformKind
from aadap.core.exceptions import (
    AADAPError,
    InvalidConfigurationError,
    InvalidRequestError,
)
from aadap.core.states import TERMINAL_STATES
from aadap.db.models import PlatformConnection, Task
from aadap.db.repos import connection_repo, log_repo, task_repo
from aadap.db.session import Database
from aadap.db.types import utcnow
from aadap.platforms import BasePlatform, create_platform
from aadap.services import logs
from aadap.services.connection_settings import (
    auth_method,
    parse_platform,
    secret_name,
    validate_config,
)
from aadap.services.secrets import BlockResolver, Keyring, SecretRef, hint

SOURCE = "connections"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
NAME_RULE = "1-128 characters: letters, digits, '.', '_', '-', starting with a letter or digit"


# --- what callers see ----------------------------------------------------------------


class ConnectionInfo(BaseModel):
    """A connection as shown by list/show/--format json: never the secret, at most its hint."""

    id: str
    name: str
    platform: str
    config: dict[str, Any]
    secret_source: Literal["encrypted", "env", "prefect-secret", "none"]
    secret_ref: str | None
    secret_hint: str | None
    is_active: bool
    is_default: bool
    status: str
    last_tested_at: dt.datetime | None
    last_latency_ms: int | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    rotated_at: dt.datetime | None

    @classmethod
    def of(cls, row: PlatformConnection) -> ConnectionInfo:
        source: Literal["encrypted", "env", "prefect-secret", "none"] = "none"
        ref_kind = (row.secret_ref or "").partition(":")[0]
        if row.secret_ciphertext is not None:
            source = "encrypted"
        elif ref_kind == "env":
            source = "env"
        elif ref_kind == "prefect-secret":
            source = "prefect-secret"
        return cls(
            id=str(row.id), name=row.name, platform=row.platform, config=dict(row.config),
            secret_source=source, secret_ref=row.secret_ref, secret_hint=row.secret_hint,
            is_active=row.is_active, is_default=row.is_default, status=row.status,
            last_tested_at=row.last_tested_at, last_latency_ms=row.last_latency_ms,
            last_error=row.last_error, created_at=row.created_at, updated_at=row.updated_at,
            rotated_at=row.rotated_at,
        )  # fmt: skip

    @property
    def secret_display(self) -> str:
        if self.secret_source == "encrypted":
            return f"encrypted {self.secret_hint or '****'}"
        return self.secret_ref or "none"


class ProbeOutcome(BaseModel):
    """One connection test. ``recorded`` is False when the row was left alone (a key problem)."""

    name: str
    platform: str
    ok: bool
    status: str
    latency_ms: int | None
    error: str | None = None
    error_code: str | None = None
    tested_at: dt.datetime
    recorded: bool = True
    auth_method: str | None = None
    """How the test authenticated (``pat``, ``oauth-m2m``, ``client-secret``, …; None: local)."""


# --- reading ----------------------------------------------------------------------------


async def _by_name(session: AsyncSession, name: str, *, lock: bool = False) -> PlatformConnection:
    row = await connection_repo.get_by_name(session, name=name, lock=lock)
    if row is None:
        raise InvalidRequestError(
            f"connection name={name!r} does not exist; list them with `aadap connections list`",
            details={"field": "name", "value": name},
        )
    return row


async def list_connections(db: Database, *, active_only: bool = False) -> list[ConnectionInfo]:
    async with db.sessions() as session:
        rows = await connection_repo.list_connections(session, active_only=active_only)
        return [ConnectionInfo.of(row) for row in rows]


async def show(db: Database, *, name: str) -> ConnectionInfo:
    async with db.sessions() as session:
        return ConnectionInfo.of(await _by_name(session, name))


async def default_for(
    session: AsyncSession, settings: Settings, kind: PlatformKind
) -> PlatformConnection | None:
    """The default connection for ``kind``: ``AADAP_PLATFORMS_DEFAULT_CONNECTION``, else the one marked default."""
    name = settings.platforms.default_connection
    if name:
        row = await connection_repo.get_by_name(session, name=name)
        if row is None:
            raise InvalidConfigurationError(
                f"AADAP_PLATFORMS_DEFAULT_CONNECTION={name!r} names no connection; "
                "list them with `aadap connections list`",
                details={"field": "AADAP_PLATFORMS_DEFAULT_CONNECTION", "value": name},
            )
    else:
        row = await connection_repo.get_marked_default(session)
    return row if row is not None and row.platform == kind.value else None


async def for_task(db: Database, settings: Settings, task: Task) -> PlatformConnection | None:
    """The connection ``task`` deploys through: its own, else the default; ``None`` for embedded local."""
    kind = PlatformKind(task.platform)
    named = task.metadata_.get("connection")
    if task.connection_id is None and not named and kind is PlatformKind.LOCAL:
        return None  # nothing to read
    async with db.sessions() as session:
        if task.connection_id is not None:
            row = await connection_repo.get_connection(session, connection_id=task.connection_id)
        elif named:
            row = None  # the named connection was removed (the foreign key was set NULL)
        else:
            row = await default_for(session, settings, kind)
    if row is None:
        reason = (
            f"its connection {named!r} was removed"
            if named
            else "no connection was named and there is no default for this platform"
        )
        raise InvalidConfigurationError(
            f"task {task.id} (platform={kind.value}) cannot deploy: {reason}; add one with "
            "`aadap connections add` and pass --connection NAME, or "
            "`aadap connections set-default NAME`",
            task_id=str(task.id),
            details={"field": "connection", "value": named, "platform": kind.value},
        )
    if row.platform != kind.value:
        raise InvalidConfigurationError(
            f"connection {row.name!r} is a {row.platform} connection but task {task.id} has platform={kind.value!r}",
            task_id=str(task.id),
            details={"field": "connection", "value": row.name},
        )
    if not row.is_active:
        raise InvalidConfigurationError(
            f"connection {row.name!r} is disabled; enable it with `aadap connections enable {row.name}`",
            task_id=str(task.id),
            details={"field": "connection", "value": row.name},
        )
    return row


# --- the secret, in memory only --------------------------------------------------------


def _what(row: PlatformConnection) -> str:
    return f"the secret of connection {row.name!r}"


async def reveal(
    row: PlatformConnection, settings: Settings, *, blocks: BlockResolver | None
) -> SecretStr | None:
    """Decrypt or resolve the connection's secret (``SecretDecryptionError`` never touches the row)."""
    if row.secret_ciphertext is not None:
        return Keyring.from_settings(settings).decrypt(row.secret_ciphertext, what=_what(row))
    if row.secret_ref is not None:
        return await SecretRef.parse(row.secret_ref).resolve(blocks=blocks, what=_what(row))
    return None


def build_platform(
    settings: Settings, row: PlatformConnection, secret: SecretStr | None
) -> BasePlatform:
    kind = PlatformKind(row.platform)
    config: dict[str, Any] = dict(row.config)
    field = secret_name(kind, config)
    if field is not None:
        if secret is None:
            raise InvalidConfigurationError(
                f"connection {row.name!r} has no secret; set one with `aadap connections rotate {row.name}`",
                details={"field": "secret", "connection": row.name},
            )
        config[field] = secret
    return create_platform(kind, settings.platforms, config=config, home=settings.home)


async def open_platform(
    settings: Settings, row: PlatformConnection, *, blocks: BlockResolver | None = None
) -> BasePlatform:
    """The platform client for ``row``, its secret decrypted or resolved in memory; caller closes it."""
    secret = await reveal(row, settings, blocks=blocks)
    return build_platform(settings, row, secret)


# --- writing ----------------------------------------------------------------------------


def _audit(event: str, message: str, row: PlatformConnection, **details: Any) -> Any:
    return logs.build(
        level=LogLevel.INFO,
        event=event,
        message=message,
        source=SOURCE,
        details={"connection": row.name, "platform": row.platform, **details},
    )


def _secret_fields(
    kind: PlatformKind,
    settings: Settings,
    secret: SecretStr | None,
    secret_ref: str | None,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """The secret columns for a new secret; validates that the connection wants one."""
    name = secret_name(kind, config)
    if secret is not None and not secret.get_secret_value():
        raise InvalidRequestError("secret is empty", details={"field": "secret"})
    if secret is not None and secret_ref is not None:
        raise InvalidRequestError(
            "give either a secret or secret_ref, not both", details={"field": "secret_ref"}
        )
    if name is None:
        if secret is not None or secret_ref is not None:
            what = (
                "a local connection"
                if kind is PlatformKind.LOCAL
                else (f"a {kind.value} connection with auth_method={auth_method(kind, config)!r}")
            )
            raise InvalidRequestError(
                f"{what} takes no secret",
                details={"field": "secret", "platform": kind.value},
            )
        return {"secret_ciphertext": None, "secret_ref": None, "secret_hint": None}
    if secret_ref is not None:
        ref = SecretRef.parse(secret_ref)
        return {"secret_ciphertext": None, "secret_ref": str(ref), "secret_hint": None}
    if secret is None:
        raise InvalidRequestError(
            f"a {kind.value} connection needs its {name}: a secret to encrypt, "
            "or secret_ref=env:NAME / prefect-secret:BLOCK",
            details={"field": "secret", "platform": kind.value},
        )
    ciphertext = Keyring.from_settings(settings).encrypt(secret, what=f"the {kind.value} {name}")
    return {"secret_ciphertext": ciphertext, "secret_ref": None, "secret_hint": hint(secret)}


async def add(
    db: Database,
    settings: Settings,
    *,
    name: str,
    platform: str,
    config: Mapping[str, Any],
    secret: SecretStr | None = None,
    secret_ref: str | None = None,
    default: bool = False,
) -> ConnectionInfo:
    """Create a connection; every check runs before the one transaction that writes it."""
    if not _NAME.match(name):
        raise InvalidRequestError(
            f"name={name!r} is not valid; allowed: {NAME_RULE}",
            details={"field": "name", "value": name, "allowed": NAME_RULE},
        )
    kind = parse_platform(platform)
    stored = validate_config(kind, config, settings)
    secret_columns = _secret_fields(kind, settings, secret, secret_ref, stored)
    row = PlatformConnection(
        name=name, platform=kind.value, config=stored, is_active=True, is_default=default,
        status=ConnectionStatus.UNTESTED.value, **secret_columns,
    )  # fmt: skip
    try:
        async with db.transaction() as session:
            if default:
                await connection_repo.clear_default(session)
            await connection_repo.add_connection(session, row=row)
            await log_repo.add_log(session, log=
                _audit("connection.added", f"connection {name!r} ({kind.value}) added", row,
                       secret=ConnectionInfo.of(row).secret_display, default=default)
            )  # fmt: skip
    except IntegrityError as exc:
        if "name" not in str(exc.orig).lower():
            raise
        raise InvalidRequestError(
            f"name={name!r} is already used by another connection; choose another name, or "
            f"`aadap connections remove {name}` first",
            details={"field": "name", "value": name},
        ) from exc
    return ConnectionInfo.of(row)


async def rotate(
    db: Database,
    settings: Settings,
    *,
    name: str,
    secret: SecretStr | None = None,
    secret_ref: str | None = None,
) -> ConnectionInfo:
    """Replace the connection's secret (or reference); sets ``rotated_at`` and status UNTESTED."""
    async with db.transaction() as session:
        row = await _by_name(session, name, lock=True)
        kind = PlatformKind(row.platform)
        if secret_name(kind, row.config) is None:
            raise InvalidRequestError(
                f"connection {name!r} has no secret to rotate "
                f"({'local' if kind is PlatformKind.LOCAL else auth_method(kind, row.config)})",
                details={"field": "name", "value": name},
            )
        columns = _secret_fields(kind, settings, secret, secret_ref, row.config)
        for key, value in columns.items():
            setattr(row, key, value)
        row.rotated_at = utcnow()
        row.status = ConnectionStatus.UNTESTED.value
        row.last_error = None
        await session.flush()
        info = ConnectionInfo.of(row)
        await log_repo.add_log(session, log=
            _audit("connection.rotated", f"secret of connection {name!r} rotated", row,
                   secret=info.secret_display)
        )  # fmt: skip
    return info


async def remove(db: Database, *, name: str) -> ConnectionInfo:
    """Delete a connection that no unfinished task uses."""
    async with db.transaction() as session:
        row = await _by_name(session, name, lock=True)
        busy = await task_repo.list_task_ids_using_connection(
            session, connection_id=row.id, not_in_states=[s.value for s in TERMINAL_STATES]
        )
        if busy:
            raise InvalidRequestError(
                f"connection {name!r} is used by {len(busy)} unfinished task(s) "
                f"({', '.join(str(t)[:8] for t in busy[:5])}); let them finish or cancel them first",
                details={"field": "name", "value": name, "tasks": [str(t) for t in busy]},
            )
        info = ConnectionInfo.of(row)
        await connection_repo.delete_connection(session, row=row)
        await log_repo.add_log(
            session, log=_audit("connection.removed", f"connection {name!r} removed", row)
        )
    return info


async def set_default(db: Database, *, name: str) -> ConnectionInfo:
    """Make ``name`` the one default connection."""
    async with db.transaction() as session:
        row = await _by_name(session, name, lock=True)
        await connection_repo.clear_default(session, except_id=row.id)
        row.is_default = True
        await session.flush()
        await log_repo.add_log(
            session, log=_audit("connection.default", f"connection {name!r} is the default", row)
        )
    return ConnectionInfo.of(row)


async def set_active(db: Database, *, name: str, active: bool) -> ConnectionInfo:
    """Enable or disable a connection (disabled ones are neither used nor health-checked)."""
    async with db.transaction() as session:
        row = await _by_name(session, name, lock=True)
        row.is_active = active
        await session.flush()
        word = "enabled" if active else "disabled"
        await log_repo.add_log(
            session, log=_audit(f"connection.{word}", f"connection {name!r} {word}", row)
        )
    return ConnectionInfo.of(row)


async def rekey(db: Database, settings: Settings) -> int:
    """Re-encrypt every stored secret with the newest key; all or nothing. Returns how many."""
    keyring = Keyring.from_settings(settings)
    keyring.require("stored secrets must be re-encrypted")
    async with db.transaction() as session:
        rows = await connection_repo.list_encrypted_for_update(session)
        for row in rows:
            assert row.secret_ciphertext is not None  # selected above
            row.secret_ciphertext = keyring.rotate(row.secret_ciphertext, what=_what(row))
        await log_repo.add_log(session, log=
            logs.build(
                level=LogLevel.INFO, event="connections.rekeyed",
                message=f"{len(rows)} stored secret(s) re-encrypted with the newest key",
                source=SOURCE, details={"connections": [r.name for r in rows]},
            )
        )  # fmt: skip
    return len(rows)


# --- testing ----------------------------------------------------------------------------


def _scrub(text: str, secret: SecretStr | None) -> str:
    if secret is None or not secret.get_secret_value():
        return text
    return text.replace(secret.get_secret_value(), hint(secret))


def _scrubbed(exc: AADAPError, secret: SecretStr | None) -> AADAPError:
    clean = _scrub(exc.message, secret)
    return exc if clean == exc.message else type(exc)(clean, details=exc.details)


async def active_names(db: Database) -> list[str]:
    async with db.sessions() as session:
        return await connection_repo.list_active_names(session)


async def probe(
    db: Database,
    settings: Settings,
    *,
    name: str,
    blocks: BlockResolver | None = None,
    source: str = SOURCE,
) -> ProbeOutcome:
    """Test one connection with the platform's ``test_connection()`` and record the outcome.

    The row gets status, latency (ms), last error and time; a ``task_logs`` row
    (``connection.tested`` INFO, or ``connection.unhealthy`` WARNING) goes with it.
    A key problem (``AADAP_SECRET_KEY`` missing or wrong) is logged and raised with
    the row left exactly as it was.
    """
    async with db.sessions() as session:
        row = await _by_name(session, name)
    started = time.monotonic()
    secret: SecretStr | None = None
    latency: float | None = None
    error: AADAPError | None = None
    try:
        secret = await reveal(row, settings, blocks=blocks)
    except AADAPError as exc:
        if row.secret_ciphertext is not None:  # AADAP_SECRET_KEY missing, malformed or wrong
            await _log_test(db, row, source, exc)
            raise
        error = exc  # a reference that does not resolve: the connection is broken
    if error is None:
        try:
            async with build_platform(settings, row, secret) as platform:
                latency = await platform.test_connection()
        except AADAPError as exc:
            error = _scrubbed(exc, secret)
    elapsed_ms = round((time.monotonic() - started) * 1000)
    outcome = ProbeOutcome(
        name=row.name,
        platform=row.platform,
        ok=error is None,
        status=(ConnectionStatus.OK if error is None else ConnectionStatus.FAILED).value,
        latency_ms=round(latency) if latency is not None else elapsed_ms,
        error=None if error is None else str(error),
        error_code=None if error is None else error.error_code,
        tested_at=utcnow(),
        auth_method=auth_method(PlatformKind(row.platform), row.config),
    )
    async with db.transaction() as session:
        await logs.add(session, [_test_log(row, source, error, outcome.latency_ms)])
        current = await connection_repo.get_connection(session, connection_id=row.id)
        if current is not None:
            current.status = outcome.status
            current.last_latency_ms = outcome.latency_ms
            current.last_error = outcome.error
            current.last_tested_at = outcome.tested_at
    return outcome


def _test_log(
    row: PlatformConnection, source: str, error: AADAPError | None, latency_ms: int | None
) -> dict[str, Any]:
    details = {"connection": row.name, "platform": row.platform, "latency_ms": latency_ms}
    if error is None:
        return logs.entry(
            level=LogLevel.INFO, event="connection.tested", source=source, details=details,
            message=f"connection {row.name!r} ({row.platform}) is healthy: {latency_ms} ms",
        )  # fmt: skip
    return logs.entry(
        level=LogLevel.WARNING, event="connection.unhealthy", source=source, details=details,
        message=f"connection {row.name!r} ({row.platform}) failed its test: {error}", error=error,
    )  # fmt: skip


async def _log_test(db: Database, row: PlatformConnection, source: str, error: AADAPError) -> None:
    await logs.write(db, [_test_log(row, source, error, None)])


__all__ = [
    "ConnectionInfo",
    "ProbeOutcome",
    "active_names",
    "add",
    "build_platform",
    "default_for",
    "for_task",
    "list_connections",
    "open_platform",
    "probe",
    "rekey",
    "remove",
    "reveal",
    "rotate",
    "set_active",
    "set_default",
    "show",
]
