"""Workspace URL validation (the SSRF allow-list)."""

from __future__ import annotations

import pytest

from aadap.core.enums import PlatformKind
from aadap.core.exceptions import InvalidConfigurationError
from aadap.platforms.workspace_urls import validate_workspace_url

DBX = PlatformKind.DATABRICKS
FABRIC = PlatformKind.FABRIC


@pytest.mark.parametrize(
    ("url", "platform", "service", "expected"),
    [
        (
            "https://adb-123.4.azuredatabricks.net/",
            DBX,
            "api",
            "https://adb-123.4.azuredatabricks.net",
        ),
        ("https://dbc-1.cloud.databricks.com", DBX, "api", "https://dbc-1.cloud.databricks.com"),
        ("https://1.2.gcp.databricks.com", DBX, "api", "https://1.2.gcp.databricks.com"),
        (
            "https://api.fabric.microsoft.com/v1/",
            FABRIC,
            "api",
            "https://api.fabric.microsoft.com/v1",
        ),
        (
            "https://wabi-west.fabric.microsoft.com/v1",
            FABRIC,
            "api",
            "https://wabi-west.fabric.microsoft.com/v1",
        ),
        ("https://login.microsoftonline.com", FABRIC, "login", "https://login.microsoftonline.com"),
    ],
)
def test_platform_domains_are_allowed(
    url: str, platform: PlatformKind, service: str, expected: str
) -> None:
    assert validate_workspace_url(url, platform, service=service) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "platform", "reason"),
    [
        ("http://adb-1.azuredatabricks.net", DBX, "plain http"),
        ("https://evil.example.com", DBX, "is not a databricks api host"),
        ("https://azuredatabricks.net.evil.com", DBX, "is not a databricks"),
        ("https://azuredatabricks.net", DBX, "is not a databricks"),
        ("https://api.fabric.microsoft.com", DBX, "is not a databricks"),
        ("https://adb-1.azuredatabricks.net", FABRIC, "is not a fabric"),
        ("adb-1.azuredatabricks.net", DBX, "absolute"),
        ("https://", DBX, "absolute"),
        ("ftp://adb-1.azuredatabricks.net", DBX, "absolute"),
        ("https://[::1", DBX, "not a valid URL"),
        ("https://adb-1.azuredatabricks.net:99999", DBX, "not a valid URL"),
        ("https://user:pw@adb-1.azuredatabricks.net", DBX, "credentials"),
        ("https://adb-1.azuredatabricks.net/?x=1", DBX, "query"),
        ("https://127.0.0.1:8443", DBX, "is not a databricks"),
        ("http://localhost:8080", DBX, "is not a databricks"),
    ],
)
def test_rejections_name_field_value_and_allowed(
    url: str, platform: PlatformKind, reason: str
) -> None:
    with pytest.raises(InvalidConfigurationError) as caught:
        validate_workspace_url(url, platform, field="workspace_url")
    message = caught.value.message
    assert message.startswith(f"workspace_url={url!r}")
    assert reason in message
    assert "allowed: https://" in message
    assert caught.value.details["field"] == "workspace_url"


def test_login_host_is_separate_from_api_hosts() -> None:
    with pytest.raises(InvalidConfigurationError, match="login"):
        validate_workspace_url("https://api.fabric.microsoft.com", FABRIC, service="login")


def test_allowed_hosts_extend_the_list() -> None:
    assert validate_workspace_url("https://dbx.corp.example", DBX, ["dbx.corp.example"])
    assert validate_workspace_url("https://a.b.corp.example", DBX, ["*.corp.example"])
    with pytest.raises(InvalidConfigurationError, match="plain http"):
        validate_workspace_url("http://dbx.corp.example", DBX, ["dbx.corp.example"])


def test_loopback_only_when_listed_and_then_http_is_allowed() -> None:
    assert (
        validate_workspace_url("http://127.0.0.1:5000", DBX, ["127.0.0.1"])
        == "http://127.0.0.1:5000"
    )
    assert validate_workspace_url("https://127.0.0.1:5000/v1", FABRIC, ["127.0.0.1"])
    assert validate_workspace_url("http://[::1]:80", DBX, ["::1"])
    assert validate_workspace_url("http://localhost:1", DBX, ["localhost"])
    with pytest.raises(InvalidConfigurationError):
        validate_workspace_url("http://127.0.0.1:5000", DBX, ["localhost"])
