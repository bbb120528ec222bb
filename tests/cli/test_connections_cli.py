"""``aadap connections …`` end to end: the real CLI, the fake servers, both databases.

Each command runs in a worker thread (the CLI owns its own event loop, as it
does in a terminal); its output and the database are searched for the secrets.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from cryptography.fernet import Fernet
from sqlalchemy import select
from typer.testing import CliRunner

from aadap.cli import app
from aadap.db import models
from aadap.db.session import Database
from tests.fakes.databricks_server import FakeDatabricks
from tests.fakes.fabric_server import FakeFabric

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
runner = CliRunner()


class Cli:
    """Runs ``aadap`` against the test database with a given AADAP_SECRET_KEY."""

    def __init__(self, db: Database, home: Path) -> None:
        self.env = {
            "AADAP_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
            "AADAP_HOME": str(home),
            "AADAP_SECRET_KEY": KEY_A,
            "AADAP_PLATFORMS_ALLOWED_HOSTS": '["127.0.0.1"]',
        }
        self.outputs: list[str] = []

    async def __call__(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        merged: dict[str, str | None] = {**self.env, **env}
        result = await asyncio.to_thread(
            runner.invoke, app, ["connections", *args], input=input, env=merged
        )
        self.outputs.append(result.output)
        return result

    @property
    def everything(self) -> str:
        return "\n".join(self.outputs)


@pytest.fixture
def cli(db: Database, tmp_path: Path) -> Cli:
    return Cli(db, tmp_path / "home")


def dbx_args(server: FakeDatabricks, name: str = "dbx") -> list[str]:
    return [
        name, "--platform", "databricks", "--workspace-url", server.url, "--warehouse-id", "wh-1",
        "--catalog", "main", "--schema", "sales",
    ]  # fmt: skip


async def stored(db: Database) -> str:
    parts: list[str] = []
    async with db.sessions() as session:
        for table in models.Base.metadata.sorted_tables:
            parts.extend(str(tuple(row)) for row in (await session.execute(select(table))).all())
    return "\n".join(parts)


async def connection(db: Database, name: str) -> models.PlatformConnection:
    async with db.sessions() as session:
        return (
            await session.execute(
                select(models.PlatformConnection).where(models.PlatformConnection.name == name)
            )
        ).scalar_one()


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


async def test_add_prompts_hidden_and_never_prints_the_secret(
    cli: Cli, db: Database, databricks_server: FakeDatabricks
) -> None:
    token = databricks_server.token
    added = await cli("add", *dbx_args(databricks_server), "--default", input=token + "\n")
    assert added.exit_code == 0, added.output
    assert "databricks token:" in added.output  # the hidden prompt
    assert f"encrypted ****{token[-4:]}" in added.output

    listed = await cli("list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    (item,) = as_json(listed)
    assert (item["name"], item["is_default"], item["secret_hint"]) == (
        "dbx",
        True,
        "****" + token[-4:],
    )
    assert (await cli("list")).exit_code == 0
    shown = await cli("show", "dbx")
    assert shown.exit_code == 0 and "config.workspace_url" in shown.output

    tested = await cli("test", "dbx")
    assert tested.exit_code == 0, tested.output
    assert "dbx: OK (" in tested.output
    assert "[auth: pat]" in tested.output  # which method the test used
    assert as_json(await cli("show", "dbx", "--format", "json"))["status"] == "OK"
    assert token not in cli.everything
    assert token not in await stored(db)


async def test_a_secret_ending_in_brackets_is_listed_literally(
    cli: Cli, databricks_server: FakeDatabricks
) -> None:
    """The list shows a secret's last four characters: ``[/x]`` there once made the table
    raise a markup error."""
    added = await cli("add", *dbx_args(databricks_server), input="dapi-token-[/x]\n")
    assert added.exit_code == 0, added.output
    listed = await cli("list")
    assert listed.exit_code == 0, listed.output
    assert "****[/x]" in listed.output


async def test_a_failing_test_exits_1_and_names_the_error(
    cli: Cli, db: Database, databricks_server: FakeDatabricks
) -> None:
    wrong = "dapi-this-one-is-wrong-0042"
    assert (await cli("add", *dbx_args(databricks_server), "--secret", wrong)).exit_code == 0
    result = await cli("test", "dbx", "--format", "json")
    assert result.exit_code == 1
    (outcome,) = as_json(result)
    assert (outcome["ok"], outcome["error_code"]) == (False, "PLATFORM_AUTH_FAILED")
    text = await cli("test")  # every active connection
    assert text.exit_code == 1 and "dbx: FAILED: [PLATFORM_AUTH_FAILED]" in text.output
    row = await connection(db, "dbx")
    assert row.status == "FAILED" and row.last_error and "401" in row.last_error
    assert wrong not in cli.everything and wrong not in await stored(db)


async def test_secret_from_env_now_or_by_reference_later(
    cli: Cli,
    db: Database,
    fabric_server: FakeFabric,
    databricks_server: FakeDatabricks,
) -> None:
    secret = fabric_server.client_secret
    fabric = [
        "--platform", "fabric", "--tenant-id", fabric_server.tenant_id,
        "--client-id", fabric_server.client_id, "--workspace-id", fabric_server.workspace_id,
        "--lakehouse-id", fabric_server.lakehouse_id, "--config", f"api_base={fabric_server.api_base}",
        "--config", f"authority_host={fabric_server.url}",
        "--config", f"ca_bundle={fabric_server.ca_bundle}",
    ]  # fmt: skip
    now = await cli("add", "fab", *fabric, "--secret-env", "FAB_SECRET", FAB_SECRET=secret)
    assert now.exit_code == 0, now.output
    assert (await connection(db, "fab")).secret_ciphertext is not None
    assert (await cli("test", "fab")).exit_code == 0

    later = await cli(
        "add", *dbx_args(databricks_server, "dbx-ref"), "--secret-ref", "env:DBX_TOKEN"
    )
    assert later.exit_code == 0, later.output
    assert "env:DBX_TOKEN" in later.output
    missing = await cli("test", "dbx-ref", DBX_TOKEN=None)
    assert missing.exit_code == 1 and "DBX_TOKEN" in missing.output
    present = await cli("test", "dbx-ref", DBX_TOKEN=databricks_server.token)
    assert present.exit_code == 0, present.output
    everything = cli.everything + await stored(db)
    assert secret not in everything and databricks_server.token not in everything


BAD: list[tuple[str, list[str], str]] = [
    ("unknown platform", ["x", "--platform", "snowflake"], "platform='snowflake' is unknown"),
    ("foreign host", ["x", "--platform", "databricks", "--workspace-url", "https://evil.example.com",
                      "--catalog", "c", "--schema", "s"], "not a databricks api host"),
    ("non-https", ["x", "--platform", "databricks", "--workspace-url",
                   "http://adb-1.azuredatabricks.net", "--catalog", "c", "--schema", "s"],
     "plain http"),
    ("missing field", ["x", "--platform", "fabric", "--tenant-id", "t"], "workspace_id: Field required"),
    ("bad pair", ["x", "--platform", "local", "--config", "novalue"], "KEY=VALUE"),
    ("two sources", ["x", "--platform", "databricks", "--workspace-url",
                     "https://adb-1.azuredatabricks.net", "--catalog", "c", "--schema", "s",
                     "--secret", "a", "--secret-ref", "env:B"], "one of --secret"),
    ("bad reference", ["x", "--platform", "databricks", "--workspace-url",
                       "https://adb-1.azuredatabricks.net", "--catalog", "c", "--schema", "s",
                       "--secret-ref", "vault:b"], "allowed: env:VARIABLE_NAME"),
    ("bad format", ["x", "--platform", "local", "--format", "yaml"], "--format"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "text"), [pytest.param(*c[1:], id=c[0]) for c in BAD])
async def test_bad_input_exits_2_without_prompting_or_writing(
    cli: Cli, db: Database, args: list[str], text: str
) -> None:
    result = await cli("add", *args)
    assert result.exit_code == 2, result.output
    assert text in result.output
    assert "token:" not in result.output  # rejected before asking for a secret
    async with db.sessions() as session:
        assert (await session.execute(select(models.PlatformConnection))).first() is None


async def test_duplicate_names_unknown_names_and_a_missing_key_exit_2(
    cli: Cli, db: Database, databricks_server: FakeDatabricks
) -> None:
    assert (await cli("add", "scratch", "--platform", "local")).exit_code == 0
    dup = await cli("add", "scratch", "--platform", "local")
    assert dup.exit_code == 2 and "name='scratch' is already used" in dup.output
    ghost = await cli("show", "ghost")
    assert ghost.exit_code == 2 and "name='ghost' does not exist" in ghost.output
    no_key = await cli(
        "add", *dbx_args(databricks_server), "--secret", "dapi-x-123456789",
        AADAP_SECRET_KEY=None,
    )  # fmt: skip
    assert no_key.exit_code == 2 and "[CONFIG_MISSING] AADAP_SECRET_KEY is not set" in no_key.output
    assert "dapi-x-123456789" not in cli.everything


async def test_rotate_rekey_and_a_wrong_key(
    cli: Cli, db: Database, databricks_server: FakeDatabricks
) -> None:
    token = databricks_server.token
    assert (
        await cli("add", *dbx_args(databricks_server), "--secret", "dapi-old-0000000")
    ).exit_code == 0
    rotated = await cli("rotate", "dbx", input=token + "\n")
    assert rotated.exit_code == 0, rotated.output
    assert as_json(await cli("show", "dbx", "--format", "json"))["rotated_at"] is not None

    both = f"{KEY_B},{KEY_A}"
    rekeyed = await cli("rekey", "--format", "json", AADAP_SECRET_KEY=both)
    assert rekeyed.exit_code == 0, rekeyed.output
    assert as_json(rekeyed) == {"reencrypted": 1}
    assert (await cli("test", "dbx", AADAP_SECRET_KEY=KEY_B)).exit_code == 0

    before = (await connection(db, "dbx")).secret_ciphertext
    wrong = await cli("test", "dbx", AADAP_SECRET_KEY=KEY_A)
    assert wrong.exit_code == 2
    assert "[SECRET_DECRYPTION_FAILED]" in wrong.output and "'dbx'" in wrong.output
    assert (await connection(db, "dbx")).secret_ciphertext == before
    local = await cli("rotate", "dbx-missing")
    assert local.exit_code == 2
    for secret in (token, "dapi-old-0000000", KEY_A, KEY_B):
        assert secret not in cli.everything
        assert secret not in await stored(db)


async def test_default_enable_disable_and_remove(cli: Cli, db: Database) -> None:
    for name in ("one", "two"):
        assert (await cli("add", name, "--platform", "local")).exit_code == 0
    assert (await cli("set-default", "two")).exit_code == 0
    assert (await cli("set-default", "one")).exit_code == 0
    listed = as_json(await cli("list", "--format", "json"))
    assert [c["name"] for c in listed if c["is_default"]] == ["one"]
    assert (await cli("disable", "two")).exit_code == 0
    tested = as_json(await cli("test", "--format", "json"))
    assert [o["name"] for o in tested] == ["one"]  # disabled connections are not tested
    assert (await cli("enable", "two")).exit_code == 0
    refused = await cli("remove", "two", input="n\n")
    assert refused.exit_code == 1
    assert (await cli("remove", "two", "--yes")).exit_code == 0
    assert [c["name"] for c in as_json(await cli("list", "--format", "json"))] == ["one"]
    assert (await cli("remove", "two", "-y")).exit_code == 2
