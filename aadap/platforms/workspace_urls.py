"""Workspace URL validation: the allow-list that keeps platform clients off arbitrary hosts (SSRF).

A platform URL must be ``https://`` with a host on the platform's own domains:

==========================  ==============================================================
platform / service          allowed hosts
==========================  ==============================================================
databricks                  ``*.azuredatabricks.net``, ``*.cloud.databricks.com``,
                            ``*.gcp.databricks.com``
fabric (API)                ``api.fabric.microsoft.com``, ``*.fabric.microsoft.com``
fabric (login)              ``login.microsoftonline.com``
databricks (login)          ``login.microsoftonline.com`` (Azure service principals)
==========================  ==============================================================

Any other host must be listed in ``allowed_hosts`` (``AADAP_PLATFORMS_ALLOWED_HOSTS``):
an exact host name or a ``*.domain`` wildcard, without port. Loopback hosts
(``localhost``, ``127.0.0.0/8``, ``::1``) are never allowed implicitly; listed
in ``allowed_hosts`` they are the one case where plain ``http://`` is accepted,
which is how the test suite points the real clients at fake servers on
127.0.0.1. A listed non-loopback host still needs ``https://``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from aadap.core.enums import PlatformKind
from aadap.core.exceptions import InvalidConfigurationError

Service = Literal["api", "login"]

_SUFFIXES: dict[tuple[PlatformKind, Service], tuple[str, ...]] = {
    (PlatformKind.DATABRICKS, "api"): (
        ".azuredatabricks.net",
        ".cloud.databricks.com",
        ".gcp.databricks.com",
    ),
    (PlatformKind.FABRIC, "api"): (".fabric.microsoft.com",),
}
_EXACT: dict[tuple[PlatformKind, Service], tuple[str, ...]] = {
    (PlatformKind.FABRIC, "api"): ("api.fabric.microsoft.com",),
    (PlatformKind.FABRIC, "login"): ("login.microsoftonline.com",),
    (PlatformKind.DATABRICKS, "login"): ("login.microsoftonline.com",),  # Azure service principals
}


def platform_domains(platform: PlatformKind, service: Service = "api") -> list[str]:
    """The built-in allowed hosts, for messages and docs (``*.x`` means any subdomain of x)."""
    exact = list(_EXACT.get((platform, service), ()))
    return exact + [f"*{suffix}" for suffix in _SUFFIXES.get((platform, service), ())]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listed(host: str, allowed_hosts: Iterable[str]) -> bool:
    for entry in allowed_hosts:
        pattern = entry.strip().lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def _on_platform(host: str, platform: PlatformKind, service: Service) -> bool:
    key = (platform, service)
    return host in _EXACT.get(key, ()) or host.endswith(_SUFFIXES.get(key, ()))


def validate_workspace_url(
    url: str,
    platform: PlatformKind,
    allowed_hosts: Iterable[str] = (),
    *,
    service: Service = "api",
    field: str = "workspace_url",
) -> str:
    """Return ``url`` normalised (no trailing slash) or raise ``InvalidConfigurationError``.

    The error names ``field``, the value and what is allowed.
    """
    allowed = list(allowed_hosts)
    domains = ", ".join(platform_domains(platform, service)) or "none built in"
    hint = f"allowed: https:// on {domains}, or a host listed in AADAP_PLATFORMS_ALLOWED_HOSTS"

    def invalid(reason: str) -> InvalidConfigurationError:
        return InvalidConfigurationError(
            f"{field}={url!r}: {reason}; {hint}",
            details={"field": field, "value": url, "platform": platform.value, "service": service},
        )

    raw = url.strip()
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError as exc:
        raise invalid(f"not a valid URL ({exc})") from exc
    if parts.scheme not in {"https", "http"} or not host:
        raise invalid("not an absolute http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise invalid("credentials in the URL are not allowed")
    if parts.query or parts.fragment:
        raise invalid("a query string or fragment is not allowed")
    listed = _listed(host, allowed)
    if not listed and not _on_platform(host, platform, service):
        raise invalid(f"host {host!r} is not a {platform.value} {service} host")
    if parts.scheme == "http" and not (listed and is_loopback(host)):
        raise invalid("plain http is allowed only for loopback hosts listed in allowed_hosts")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


__all__ = ["is_loopback", "platform_domains", "validate_workspace_url"]
