"""``aadap connections add|list|show|test|rotate|remove|set-default|enable|disable|rekey``.

Secrets are never echoed: ``--secret`` defaults to a hidden prompt, ``--secret-env
VAR`` reads the value from an environment variable now (it is then encrypted),
``--secret-ref env:VAR|prefect-secret:BLOCK`` stores a reference resolved at use
time. Output shows at most a secret's last four characters.
Exit codes: 0 ok, 1 a test failed, 2 bad input or configuration.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import SecretStr

from aadap.cli._common import (
    EXIT_FAILURE,
    Format,
    bad_input,
    check_format,
    fail,
    out,
    print_json,
    settings_or_exit,
    table,
    with_database,
)
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import AADAPError, InvalidRequestError

if TYPE_CHECKING:
    from aadap.db.session import Database
    from aadap.services.connections import ConnectionInfo, ProbeOutcome

# The connection service pulls in every platform SDK (databricks-sdk, azure-identity) and
# the secret blocks pull in Prefect: both are imported inside the commands that use them,
# so that ``aadap --help`` and every other command start without them.

Name = Annotated[str, typer.Argument(help="the connection's name")]
SecretOpt = Annotated[
    str | None,
    typer.Option(
        "--secret",
        help="the secret (token / client secret); default: asked for with a hidden prompt",
        show_default=False,
    ),
]
SecretEnv = Annotated[
    str | None,
    typer.Option(
        "--secret-env", metavar="VAR", help="read the secret from this variable now and encrypt it"
    ),
]
SecretRefOpt = Annotated[
    str | None,
    typer.Option(
        "--secret-ref",
        metavar="REF",
        help="store a reference instead: env:VAR or prefect-secret:BLOCK (read at use time)",
    ),
]


def _secret(
    kind: PlatformKind,
    secret: str | None,
    secret_env: str | None,
    secret_ref: str | None,
    config: dict[str, Any] | None = None,
) -> tuple[SecretStr | None, str | None]:
    """The secret (or reference) from exactly one source; prompts (hidden) when none was given."""
    given = [opt for opt, v in (("--secret", secret), ("--secret-env", secret_env),
                                ("--secret-ref", secret_ref)) if v is not None]  # fmt: skip
    if len(given) > 1:
        fail(InvalidRequestError(
            f"{' and '.join(given)} were both given; allowed: one of --secret, --secret-env, --secret-ref",
            details={"field": given[1]},
        ))  # fmt: skip
    from aadap.services.connection_settings import secret_name

    name = secret_name(kind, config or {})
    if name is None:
        if given:
            what = "a local connection" if kind is PlatformKind.LOCAL else "this auth_method"
            fail(InvalidRequestError(
                f"{given[0]} was given, but {what} takes no secret",
                details={"field": given[0]},
            ))  # fmt: skip
        return None, None
    if secret_ref is not None:
        return None, secret_ref
    if secret_env is not None:
        value = os.environ.get(secret_env)
        if not value:
            bad_input("--secret-env", secret_env, "the name of a set, non-empty variable")
        return SecretStr(value), None
    if secret is None:
        secret = typer.prompt(f"{kind.value} {name}", hide_input=True)
    return SecretStr(secret), None


def _parse_pairs(pairs: list[str]) -> dict[str, str]:
    extra: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            bad_input("--config", pair, "KEY=VALUE, e.g. --config api_base=https://…")
        extra[key.strip()] = value.strip()
    return extra


def _show_info(info: ConnectionInfo, fmt: str) -> None:
    if fmt == "json":
        print_json(info.model_dump(mode="json"))
        return
    lines: list[tuple[str, Any]] = [
        ("name", info.name), ("platform", info.platform), ("id", info.id),
        ("default", info.is_default), ("active", info.is_active), ("secret", info.secret_display),
        ("status", info.status), ("last tested", info.last_tested_at),
        ("latency ms", info.last_latency_ms), ("last error", info.last_error),
        ("created", info.created_at), ("rotated", info.rotated_at),
    ]  # fmt: skip
    lines += [(f"config.{k}", v) for k, v in info.config.items()]
    for key, value in lines:
        out.print(f"{key:22} {'' if value is None else value}", highlight=False, markup=False)


def _show_outcome(outcome: ProbeOutcome) -> None:
    via = f" [auth: {outcome.auth_method}]" if outcome.auth_method else ""
    if outcome.ok:
        text = f"{outcome.name}: OK ({outcome.latency_ms} ms){via}"
    else:
        text = f"{outcome.name}: FAILED: {outcome.error}{via}"
    out.print(text, highlight=False, markup=False)


connections_app = typer.Typer(
    help="Platform connections (Databricks, Fabric, local) and their encrypted secrets.",
    no_args_is_help=True,
)


@connections_app.command("add")
def add(
    name: Name,
    platform: Annotated[str, typer.Option(help="databricks, fabric or local")],
    workspace_url: Annotated[str | None, typer.Option(help="databricks: https://…")] = None,
    warehouse_id: Annotated[str | None, typer.Option(help="databricks: SQL warehouse")] = None,
    cluster_id: Annotated[str | None, typer.Option(help="databricks: existing cluster")] = None,
    cluster_policy_id: Annotated[
        str | None, typer.Option(help="databricks: policy for a new job cluster")
    ] = None,
    catalog: Annotated[str | None, typer.Option(help="databricks: catalog")] = None,
    schema: Annotated[str | None, typer.Option(help="databricks: schema")] = None,
    tenant_id: Annotated[str | None, typer.Option(help="fabric: Entra tenant")] = None,
    client_id: Annotated[str | None, typer.Option(help="fabric: service principal")] = None,
    workspace_id: Annotated[str | None, typer.Option(help="fabric: workspace")] = None,
    lakehouse_id: Annotated[str | None, typer.Option(help="fabric: lakehouse")] = None,
    database_path: Annotated[str | None, typer.Option(help="local: DuckDB file")] = None,
    config: Annotated[
        list[str] | None,
        typer.Option("--config", metavar="KEY=VALUE", help="any other setting (repeatable)"),
    ] = None,
    secret: SecretOpt = None,
    secret_env: SecretEnv = None,
    secret_ref: SecretRefOpt = None,
    default: Annotated[bool, typer.Option("--default", help="make it the default")] = False,
    fmt: Format = "text",
) -> None:
    """Add a connection; its secret is encrypted with AADAP_SECRET_KEY or held by reference."""
    from aadap.services import connections
    from aadap.services.connection_settings import parse_platform, validate_config

    check_format(fmt)
    try:
        kind = parse_platform(platform)
    except InvalidRequestError as exc:
        fail(exc)
    values = {
        "workspace_url": workspace_url, "warehouse_id": warehouse_id, "cluster_id": cluster_id,
        "cluster_policy_id": cluster_policy_id, "catalog": catalog, "schema": schema,
        "tenant_id": tenant_id, "client_id": client_id, "workspace_id": workspace_id,
        "lakehouse_id": lakehouse_id, "database_path": database_path,
    }  # fmt: skip
    settings_map: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
    settings_map.update(_parse_pairs(config or []))
    settings = settings_or_exit()
    try:  # reject bad settings before asking for a secret
        validate_config(kind, settings_map, settings)
    except AADAPError as exc:
        fail(exc)
    clear, ref = _secret(kind, secret, secret_env, secret_ref, settings_map)
    info = with_database(
        settings,
        lambda db: connections.add(
            db, settings, name=name, platform=kind.value, config=settings_map,
            secret=clear, secret_ref=ref, default=default,
        ),
    )  # fmt: skip
    if fmt == "text":
        out.print(f"added connection {info.name}", highlight=False, markup=False)
    _show_info(info, fmt)


@connections_app.command("list")
def list_(fmt: Format = "text") -> None:
    """Every connection, with its status and the last four characters of its secret."""
    from aadap.services import connections

    check_format(fmt)
    settings = settings_or_exit()
    rows = with_database(settings, lambda db: connections.list_connections(db))
    if fmt == "json":
        print_json([r.model_dump(mode="json") for r in rows])
        return
    shown = [
        {"name": r.name, "platform": r.platform, "default": "*" if r.is_default else "",
         "active": "yes" if r.is_active else "no", "status": r.status,
         "latency": "" if r.last_latency_ms is None else f"{r.last_latency_ms} ms",
         "secret": r.secret_display,  # its last four characters may be anything, [/x] too
         "last_tested": "" if r.last_tested_at is None else r.last_tested_at.isoformat()[:19]}
        for r in rows
    ]  # fmt: skip
    fields = ["name", "platform", "default", "active", "status", "latency", "secret", "last_tested"]
    out.print(table(fields, shown, names={"name"}))


@connections_app.command("show")
def show(name: Name, fmt: Format = "text") -> None:
    """One connection: settings, secret hint, last test."""
    from aadap.services import connections

    check_format(fmt)
    settings = settings_or_exit()
    _show_info(with_database(settings, lambda db: connections.show(db, name=name)), fmt)


@connections_app.command("test")
def probe(
    name: Annotated[
        str | None, typer.Argument(help="the connection; default: every active one")
    ] = None,
    fmt: Format = "text",
) -> None:
    """Test credentials and reachability; record status and latency. Exit 1 if a test fails."""
    from aadap.orchestration import secret_blocks
    from aadap.services import connections

    check_format(fmt)
    settings = settings_or_exit()

    async def work(db: Database) -> list[ProbeOutcome]:
        names = [name] if name is not None else await connections.active_names(db)
        return [
            await connections.probe(
                db, settings, name=n, blocks=secret_blocks.load_secret, source="cli"
            )
            for n in names
        ]

    outcomes = with_database(settings, work)
    if fmt == "json":
        print_json([o.model_dump(mode="json") for o in outcomes])
    else:
        for outcome in outcomes:
            _show_outcome(outcome)
    if not all(o.ok for o in outcomes):
        raise typer.Exit(EXIT_FAILURE)


@connections_app.command("rotate")
def rotate(
    name: Name,
    secret: SecretOpt = None,
    secret_env: SecretEnv = None,
    secret_ref: SecretRefOpt = None,
    fmt: Format = "text",
) -> None:
    """Replace a connection's secret (or reference); its status returns to UNTESTED."""
    from aadap.services import connections

    check_format(fmt)
    settings = settings_or_exit()
    current = with_database(settings, lambda db: connections.show(db, name=name))
    kind = PlatformKind(current.platform)
    if kind is PlatformKind.LOCAL:
        bad_input("name", name, "a databricks or fabric connection (local ones have no secret)")
    clear, ref = _secret(kind, secret, secret_env, secret_ref, current.config)
    info = with_database(
        settings,
        lambda db: connections.rotate(db, settings, name=name, secret=clear, secret_ref=ref),
    )
    if fmt == "text":
        out.print(f"rotated the secret of {info.name}", highlight=False, markup=False)
    _show_info(info, fmt)


@connections_app.command("remove")
def remove(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Delete a connection (refused while an unfinished task uses it)."""
    from aadap.services import connections

    settings = settings_or_exit()
    if not yes and not typer.confirm(f"remove connection {name!r}?"):
        raise typer.Exit(EXIT_FAILURE)
    with_database(settings, lambda db: connections.remove(db, name=name))
    out.print(f"removed connection {name}", highlight=False, markup=False)


@connections_app.command("set-default")
def set_default(name: Name) -> None:
    """Make NAME the one default connection (used when a task names none)."""
    from aadap.services import connections

    settings = settings_or_exit()
    with_database(settings, lambda db: connections.set_default(db, name=name))
    out.print(f"{name} is now the default connection", highlight=False, markup=False)


@connections_app.command("enable")
def enable(name: Name) -> None:
    """Let tasks and the health check use NAME again."""
    from aadap.services import connections

    settings = settings_or_exit()
    with_database(settings, lambda db: connections.set_active(db, name=name, active=True))
    out.print(f"enabled connection {name}", highlight=False, markup=False)


@connections_app.command("disable")
def disable(name: Name) -> None:
    """Keep NAME but stop using and health-checking it."""
    from aadap.services import connections

    settings = settings_or_exit()
    with_database(settings, lambda db: connections.set_active(db, name=name, active=False))
    out.print(f"disabled connection {name}", highlight=False, markup=False)


@connections_app.command("rekey")
def rekey(fmt: Format = "text") -> None:
    """Re-encrypt every stored secret with the newest key of AADAP_SECRET_KEY (all or nothing)."""
    from aadap.services import connections

    check_format(fmt)
    settings = settings_or_exit()
    count = with_database(settings, lambda db: connections.rekey(db, settings))
    if fmt == "json":
        print_json({"reencrypted": count})
    else:
        out.print(
            f"re-encrypted {count} secret(s) with the newest key", highlight=False, markup=False
        )
