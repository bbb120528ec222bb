"""Production host names referenced from code, matched against ``production_host_patterns``.

Candidates are the hosts of URLs (``jdbc:sqlserver://prod-db.company.com``), the values
of ``server=``/``host=``/``Data Source=`` keys, and bare dotted names that end in a
common top-level or intranet domain (so the table ``prod.sales.orders`` is not a host).

A pattern with ``*``, ``?`` or ``[`` is a glob over the whole host (``*.prod.*``); a
pattern with a dot matches the host or any subdomain of it (``db.company.com``); any
other pattern matches one label of the host split at ``.``, ``-`` and ``_`` (``prod``
matches ``prod-db.company.com`` but not ``product.company.com``).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Sequence

from aadap.core.enums import Language, RiskLevel
from aadap.safety.findings import Finding

_URL = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://(?:[^\s/@\"']{1,200}@)?([A-Za-z0-9][A-Za-z0-9.-]{0,252})"
)
_KEYED = re.compile(
    r"\b(?:server|host|hostname|data source|address|endpoint)\s*[=:]\s*[\"']?(?:tcp:)?"
    r"([A-Za-z0-9][A-Za-z0-9.-]{0,252})",
    re.IGNORECASE,
)
_BARE = re.compile(
    r"\b((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,10}"
    r"(?:com|net|org|io|local|internal|corp|lan|intra|intranet|cloud|dev|co|uk|de|fr|eu|us|ai))\b",
    re.IGNORECASE,
)
_LABELS = re.compile(r"[.\-_]")
_HINT = (
    "Use the environment's connection from configuration; sandbox code must not reach production."
)


@functools.lru_cache(maxsize=32)
def _literal_parts(patterns: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Per pattern, its literal fragments (``*.prod.*`` -> ``(".prod.",)``); ``()`` for ``*``."""
    return tuple(
        tuple(f for f in re.split(r"[*?\[\]]+", p.strip().lower()) if f)
        for p in patterns
        if p.strip()
    )


def _matches(host: str, patterns: Sequence[str]) -> str | None:
    labels = set(_LABELS.split(host))
    for raw in patterns:
        pattern = raw.strip().lower()
        if not pattern:
            continue
        if any(ch in pattern for ch in "*?["):
            hit = fnmatch.fnmatchcase(host, pattern)
        elif "." in pattern:
            hit = host == pattern or host.endswith("." + pattern)
        else:
            hit = pattern in labels
        if hit:
            return raw
    return None


def find_production_hosts(
    code: str, line_of: Callable[[int], int], patterns: Sequence[str], language: Language | None
) -> list[Finding]:
    """A ``host.production`` finding for every host that matches one of ``patterns``."""
    literal_parts = _literal_parts(tuple(patterns))
    if not literal_parts:
        return []
    lowered = code.lower()
    if all(parts and not any(f in lowered for f in parts) for parts in literal_parts):
        return []  # no pattern's literal text occurs anywhere: nothing can match
    found: list[Finding] = []
    seen: set[tuple[str, int]] = set()
    for regex in (_URL, _KEYED, _BARE):
        for match in regex.finditer(code):
            host = match.group(1).strip(".").lower()
            if "." not in host and regex is _BARE:
                continue
            line = line_of(match.start(1))
            if (host, line) in seen:
                continue
            seen.add((host, line))
            pattern = _matches(host, patterns)
            if pattern is not None:
                msg = f"production host {host} is referenced (matches {pattern!r})"
                found.append(
                    Finding("host.production", RiskLevel.HIGH, line, msg, _HINT, None, language)
                )
    return found


def url_host(text: str) -> str | None:
    """The host of a URL (``https://api.example.com/x`` → ``api.example.com``), or of a
    bare ``host[:port][/path]``; ``None`` for a relative path or an empty value."""
    value = text.strip()
    if "://" in value:
        rest = value.split("://", 1)[1]
    elif value.startswith(("/", ".", "~")) or not value:
        return None
    else:
        rest = value
    authority = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if authority.startswith("["):  # [::1]:8080
        return authority[1:].split("]", 1)[0].lower() or None
    host = authority.split(":", 1)[0].strip().lower().rstrip(".")
    return host or None


def host_allowed(host: str | None, allowed_hosts: Sequence[str]) -> bool:
    """``host`` is listed: an exact entry, or ``*.suffix`` for any subdomain of it."""
    if not host:
        return False
    for entry in allowed_hosts:
        pattern = entry.strip().lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif pattern and host == pattern:
            return True
    return False
