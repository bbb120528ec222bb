"""LLM, pricing and budget settings as a team writes them: empty means "not set",
``off`` switches a USD budget off, a ``.env`` file is read, bad prices are named."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from aadap.core.config import PriceOverride, load_settings
from aadap.core.exceptions import InvalidConfigurationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``AADAP_`` variable of the developer's shell, and a directory with no ``.env``."""
    for name in list(os.environ):
        if name.startswith("AADAP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AADAP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("value", ["off", "OFF", "none", " None "])
def test_a_usd_budget_is_switched_off_with_off_or_none(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AADAP_BUDGETS_TASK_USD", value)
    monkeypatch.setenv("AADAP_BUDGETS_DAILY_USD", value)
    monkeypatch.setenv("AADAP_BUDGETS_MONTHLY_USD", value)
    budgets = load_settings().budgets
    assert (budgets.task_usd, budgets.daily_usd, budgets.monthly_usd) == (None, None, None)


def test_an_empty_variable_means_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AADAP_BUDGETS_TASK_USD", "AADAP_BUDGETS_DAILY_USD", "AADAP_BUDGETS_TASK_TOKENS",
        "AADAP_LLM_BASE_URL", "AADAP_LLM_API_KEY", "AADAP_LLM_TIMEOUT_SECONDS",
        "AADAP_LLM_MODELS", "AADAP_LLM_PRICES", "AADAP_DATABASE_URL",
        "AADAP_PLATFORMS_DEFAULT_CONNECTION",
    ):  # fmt: skip
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert settings.budgets.task_usd == Decimal("1.00")  # the default: empty is not "off"
    assert settings.budgets.daily_usd is None
    assert settings.budgets.task_tokens == 50_000
    assert settings.llm.base_url is None
    assert settings.llm.api_key is None
    assert settings.llm.timeout_seconds == 60.0
    assert settings.llm.prices == {}
    assert settings.database.url is None


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "one dollar"])
def test_a_bad_usd_budget_names_the_variable(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AADAP_BUDGETS_TASK_USD", value)
    with pytest.raises(InvalidConfigurationError, match=f"AADAP_BUDGETS_TASK_USD='{value}'"):
        load_settings()


def test_env_example_loads_as_a_dotenv_file_unchanged() -> None:
    """``cp .env.example .env`` gives the documented defaults (and no placeholder secret)."""
    Path(".env").write_text((ROOT / ".env.example").read_text())
    settings = load_settings()
    assert settings.llm.api_key is None
    assert settings.budgets.task_usd == Decimal("1.00")
    assert settings.budgets.daily_usd is None
    assert settings.schedules.cost_report_cron == "0 6 * * *"
    assert settings.platforms.compute_usd_per_hour["databricks"] == Decimal("0.70")


def test_a_dotenv_file_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(
        "AADAP_BUDGETS_TASK_USD=off\n"
        "AADAP_LLM_DEFAULT_MODEL=aadap-default\n"
        "AADAP_LLM_TIMEOUT_SECONDS=12\n"
    )
    monkeypatch.setenv("AADAP_LLM_TIMEOUT_SECONDS", "7")
    settings = load_settings()
    assert settings.budgets.task_usd is None
    assert settings.llm.default_model == "aadap-default"
    assert settings.llm.timeout_seconds == 7.0


def test_prices_take_a_price_or_the_name_of_a_known_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AADAP_LLM_PRICES",
        '{"aadap-parser": "gpt-4o-mini", '
        '"prod-gpt": {"input_per_mtok": "0.15", "output_per_mtok": "0.60"}}',
    )
    prices = load_settings().llm.prices
    assert prices["aadap-parser"] == "gpt-4o-mini"
    assert prices["prod-gpt"] == PriceOverride(
        input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.60")
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            '{"aadap-parser": {"input_per_mtok": "-1", "output_per_mtok": "2"}}',
            "price of 'aadap-parser': input_per_mtok='-1': Input should be greater than or equal to 0",
            id="negative",
        ),
        pytest.param(
            '{"aadap-parser": {"input_per_mtok": "cheap", "output_per_mtok": "2"}}',
            "price of 'aadap-parser': input_per_mtok='cheap'",
            id="not-a-number",
        ),
        pytest.param(
            '{"aadap-parser": {"input_per_mtok": "NaN", "output_per_mtok": "2"}}',
            "price of 'aadap-parser': input_per_mtok='NaN'",
            id="nan",
        ),
        pytest.param(
            '{"aadap-parser": {"input": "1", "output_per_mtok": "2"}}',
            "price of 'aadap-parser': input_per_mtok: Field required",
            id="misspelt-key",
        ),
        pytest.param('{"aadap-parser": 3}', "price of 'aadap-parser' is 3", id="bare-number"),
        pytest.param('{"aadap-parser": ""}', "price of 'aadap-parser' is ''", id="empty-name"),
    ],
)
def test_a_bad_price_names_the_model_and_the_rule(
    value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AADAP_LLM_PRICES", value)
    with pytest.raises(InvalidConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("[CONFIG_INVALID] AADAP_LLM_PRICES=")
    assert expected in message
    assert '{"input_per_mtok": "0.15", "output_per_mtok": "0.60"}' in message
