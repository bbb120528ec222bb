from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aadap.cli import app
from aadap.core.config import load_settings, mask_url, normalise_database_url
from aadap.core.exceptions import ConfigurationError

SECRET = "sk-THIS-IS-A-SECRET-9876"
DB_PASSWORD = "hunter2-db-pass"


def test_defaults_put_sqlite_under_aadap_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AADAP_HOME", str(tmp_path / "home"))
    settings = load_settings()
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'home' / 'aadap.db'}"
    assert settings.is_sqlite
    assert settings.llm.provider == "offline"
    assert settings.max_self_corrections == 3


def test_settings_are_built_when_asked_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_MAX_SELF_CORRECTIONS", "5")
    monkeypatch.setenv("AADAP_BUDGETS_TASK_USD", "2.50")
    settings = load_settings()
    assert settings.max_self_corrections == 5
    assert settings.budgets.task_usd == Decimal("2.50")
    monkeypatch.setenv("AADAP_MAX_SELF_CORRECTIONS", "1")
    assert load_settings().max_self_corrections == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/app", "postgresql+psycopg://u:p@db.example:5432/app"),
        ("postgresql://u@localhost/app", "postgresql+psycopg://u@localhost/app"),
        ("postgresql+psycopg://u@localhost/app", "postgresql+psycopg://u@localhost/app"),
        ("sqlite+aiosqlite:///tmp/x.db", "sqlite+aiosqlite:///tmp/x.db"),
        ("sqlite:///tmp/x.db", "sqlite+aiosqlite:///tmp/x.db"),
    ],
)
def test_database_urls_are_normalised(
    given: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert normalise_database_url(given) == expected
    monkeypatch.setenv("AADAP_DATABASE_URL", given)
    assert load_settings().database_url == expected


@pytest.mark.parametrize(
    "bad", ["mysql://u@h/db", "not a url", "postgresql://", "http://example.com/db"]
)
def test_bad_database_url_names_the_variable(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_DATABASE_URL", bad)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "AADAP_DATABASE_URL" in info.value.message
    assert "allowed" in info.value.message or "needs" in info.value.message


def test_bad_value_names_variable_value_and_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_BUDGETS_TASK_TOKENS", "-5")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "AADAP_BUDGETS_TASK_TOKENS" in info.value.message
    assert "'-5'" in info.value.message
    assert "greater than or equal to 0" in info.value.message


def test_openai_provider_needs_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_LLM_PROVIDER", "openai")
    with pytest.raises(ConfigurationError, match="AADAP_LLM_PROVIDER=openai"):
        load_settings()


def test_unknown_timezone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigurationError, match="AADAP_TIMEZONE"):
        load_settings()


def _secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_LLM_API_KEY", SECRET)
    monkeypatch.setenv("AADAP_SECRET_KEY", SECRET + "-fernet")
    monkeypatch.setenv("AADAP_DATABASE_URL", f"postgresql://app:{DB_PASSWORD}@db.example/app")


def test_secrets_never_appear_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    _secret_env(monkeypatch)
    settings = load_settings()
    for text in (
        repr(settings),
        str(settings),
        repr(settings.llm),
        str(settings.database),
        str(settings.public_view()),
    ):
        assert SECRET not in text
        assert DB_PASSWORD not in text
    assert settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == SECRET
    assert DB_PASSWORD in settings.database_url  # still usable by the engine


def test_secrets_never_appear_in_config_show(monkeypatch: pytest.MonkeyPatch) -> None:
    _secret_env(monkeypatch)
    runner = CliRunner()
    for args in (["config", "show"], ["config", "show", "--format", "json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output
        assert DB_PASSWORD not in result.output
        assert "9876" in result.output  # the last four characters identify the key
        assert "app:***@db.example" in result.output


def test_config_show_rejects_an_unknown_format() -> None:
    result = CliRunner().invoke(app, ["config", "show", "--format", "yaml"])
    assert result.exit_code == 2
    assert "--format" in result.output and "yaml" in result.output


def test_mask_url_leaves_passwordless_urls_alone() -> None:
    assert mask_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert mask_url("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"


def _secret_env_names() -> set[str]:
    from pydantic import SecretStr

    from aadap.core import config

    names = set()
    groups = {
        None: config.Settings,
        "database": config.DatabaseSettings,
        "llm": config.LLMSettings,
        "platforms": config.PlatformSettings,
        "budgets": config.BudgetSettings,
        "retries": config.RetrySettings,
        "safety": config.SafetySettings,
        "schedules": config.ScheduleSettings,
    }
    for group, model in groups.items():
        for field, info in model.model_fields.items():
            if "SecretStr" in str(info.annotation) or info.annotation is SecretStr:
                names.add(config.env_name(group, field))
    return names


def test_every_secret_setting_is_a_secretstr_with_a_placeholder_in_env_example() -> None:
    root = Path(__file__).resolve().parents[2]
    assert "sqlalchemy.url" not in (root / "alembic.ini").read_text()
    documented = {}
    for line in (root / ".env.example").read_text().splitlines():
        if line.startswith("AADAP_") and "=" in line:
            name, _, value = line.partition("=")
            documented[name] = value
    secrets = _secret_env_names()
    assert secrets >= {"AADAP_SECRET_KEY", "AADAP_LLM_API_KEY", "AADAP_DATABASE_URL"}
    for name in secrets:
        assert name in documented, f"{name} is not documented in .env.example"
        assert documented[name] in ("", "<placeholder>"), f"{name} must hold a placeholder"
