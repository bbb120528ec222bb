"""Hard-coded credentials, in any language, comments included.

Two kinds of evidence: a *quoted literal* assigned to a credential-like key
(``password = "..."``, ``"api_key": "..."``, ``.option("password", "...")``,
``IDENTIFIED BY '...'``), and values with a *recognisable format* (Databricks
``dapi…`` tokens, ``sk-…`` keys, AWS ``AKIA…`` ids, private keys, credentials inside
connection strings). References to secret stores (``dbutils.secrets.get(...)``,
``os.environ[...]``, ``{{secrets/scope/key}}``, ``${VAR}``) are not literals and are
not reported. Messages never repeat the secret.

Every pattern is linear: bounded repetitions, no nested quantifiers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from aadap.core.enums import Language, RiskLevel
from aadap.safety.findings import Finding

_HINT = (
    "Read it from the platform's secret store (dbutils.secrets.get, Key Vault) "
    "or from an environment variable."
)

_PASSWORD_KEYS = "password|passwd|pwd|passphrase"
_TOKEN_KEYS = r"secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|auth"
_ASSIGNED = re.compile(
    rf"({_PASSWORD_KEYS}|{_TOKEN_KEYS})[\"']?"
    r"(?:\s*:\s*[A-Za-z_][\w\[\]|. ]{0,30}?)?"  # an optional type annotation
    r"\s*(?:=|:|=>|:=)\s*"
    r"[rbuRBU]{0,2}([\"'])([^\"'\n]{1,300})\2",
    re.IGNORECASE,
)
_OPTION = re.compile(
    rf"[\"']({_PASSWORD_KEYS}|{_TOKEN_KEYS})[\"']\s*,\s*([\"'])([^\"'\n]{{1,300}})\2", re.IGNORECASE
)
_IDENTIFIED = re.compile(r"\bIDENTIFIED\s+BY\s+'([^'\n]{1,300})'", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"^(?:\s*|[*xX.•#-]+|<[^>]*>|\$\{[^}]*\}|\$\w+|\{\{[^}]*\}\}|\{[^}]*\}|%\(?\w*\)?s|%s"
    r"|@Microsoft\.KeyVault\(.*\)|(?i:.*(?:your|replace|placeholder|example|dummy|redacted).*)"
    r"|(?i:none|null|nil|undefined|todo|tbd))$"
)

_URL_USERINFO = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s/:@\"']{1,100}:([^\s@/\"']{1,200})@"
)
_JDBC = re.compile(r"jdbc:[^\s\"']{0,500}?[;?&](?:password|pwd)=([^;&\s\"']{1,200})", re.IGNORECASE)
_ADO = re.compile(
    r"\b(?:server|data source|host)\s*=[^\"'\n]{0,300}?;"
    r"\s*(?:password|pwd)\s*=\s*([^;\"'\n]{1,200})",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Format:
    rule: str
    severity: RiskLevel
    markers: tuple[str, ...]  # cheap substring tests: the regex runs only if one is present
    regex: re.Pattern[str]
    message: str


_FORMATS: tuple[_Format, ...] = (
    _Format(
        "secret.private_key",
        RiskLevel.CRITICAL,
        ("PRIVATE KEY",),
        re.compile(r"-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY-----"),
        "a private key is embedded in the code",
    ),
    _Format(
        "secret.databricks_token",
        RiskLevel.HIGH,
        ("dapi",),
        re.compile(r"\bdapi[0-9a-f]{32}(?:-\d{1,3})?\b"),
        "a Databricks personal access token (dapi...) is embedded in the code",
    ),
    _Format(
        "secret.api_key",
        RiskLevel.HIGH,
        ("sk-",),
        re.compile(r"\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{20,200}"),
        "an API key (sk-...) is embedded in the code",
    ),
    _Format(
        "secret.aws_key",
        RiskLevel.HIGH,
        ("AKIA", "ASIA"),
        re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        "an AWS access key id is embedded in the code",
    ),
    _Format(
        "secret.github_token",
        RiskLevel.HIGH,
        ("ghp_", "gho_", "ghs_", "github_pat_"),
        re.compile(r"\b(?:ghp|gho|ghs)_[A-Za-z0-9]{36}\b|\bgithub_pat_\w{22,255}"),
        "a GitHub token is embedded in the code",
    ),
    _Format(
        "secret.slack_token",
        RiskLevel.HIGH,
        ("xox",),
        re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,200}"),
        "a Slack token is embedded in the code",
    ),
    _Format(
        "secret.storage_key",
        RiskLevel.HIGH,
        ("AccountKey=",),
        re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,200}"),
        "an Azure storage account key is embedded in the code",
    ),
    _Format(
        "secret.sas_token",
        RiskLevel.HIGH,
        ("sig=", "SharedAccessSignature="),
        re.compile(r"(?:SharedAccessSignature=|[?&]sig=)[A-Za-z0-9%+/=]{20,200}"),
        "an Azure shared access signature is embedded in the code",
    ),
    _Format(
        "secret.jwt",
        RiskLevel.HIGH,
        ("eyJ",),
        re.compile(
            r"\beyJ[A-Za-z0-9_-]{10,2000}\.eyJ[A-Za-z0-9_-]{10,4000}\.[A-Za-z0-9_-]{10,2000}"
        ),
        "a JSON web token is embedded in the code",
    ),
)
_ANY_MARKER = re.compile("|".join(re.escape(m) for f in _FORMATS for m in f.markers))
KEY_MARKERS = ("pass", "pwd", "secret", "token", "key", "credential", "auth")

LineOf = Callable[[int], int]
# Everything find_secrets looks for contains one of these (lowercased): text without them is clean.
_EVIDENCE = (
    *KEY_MARKERS,
    "identified",
    "jdbc:",
    "://",
    "source",
    "server",
    *(m.lower() for f in _FORMATS for m in f.markers),
)


def may_hold_secret(text: str) -> bool:
    """A cheap test: ``False`` means :func:`find_secrets` would find nothing in ``text``."""
    lowered = text.lower()
    return any(marker in lowered for marker in _EVIDENCE)


def _placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.match(value.strip()))


def _f(
    rule: str, severity: RiskLevel, line: int, message: str, language: Language | None
) -> Finding:
    return Finding(rule, severity, line, message, _HINT, None, language)


def _assigned(code: str, line_of: LineOf, language: Language | None) -> list[Finding]:
    found: list[Finding] = []
    for pattern in (_ASSIGNED, _OPTION):
        for match in pattern.finditer(code):
            key, value = match.group(1).lower(), match.group(3)
            is_password = re.fullmatch(_PASSWORD_KEYS, key) is not None
            if _placeholder(value) or len(value) < (3 if is_password else 8):
                continue
            rule, what = (
                ("secret.password", "password") if is_password else ("secret.token", f"{key} value")
            )
            found.append(
                _f(rule, RiskLevel.HIGH, line_of(match.start()), f"hard-coded {what}", language)
            )
    return found


def find_secrets(code: str, line_of: LineOf, language: Language | None) -> list[Finding]:
    """Every hard-coded credential in ``code``; ``line_of`` maps an offset to a 1-based line."""
    lowered = code.lower()
    found = _assigned(code, line_of, language) if any(k in lowered for k in KEY_MARKERS) else []
    checks = (
        (
            _IDENTIFIED,
            "identified" in lowered,
            "hard-coded password (IDENTIFIED BY)",
            "secret.password",
        ),
        (
            _URL_USERINFO,
            "://" in code and "@" in code,
            "a connection string carries a password",
            "secret.connection_string",
        ),
        (
            _JDBC,
            "jdbc:" in lowered,
            "a connection string carries a password",
            "secret.connection_string",
        ),
        (
            _ADO,
            "pwd" in lowered or "password" in lowered,
            "a connection string carries a password",
            "secret.connection_string",
        ),
    )
    for pattern, present, message, rule in checks:
        for match in pattern.finditer(code) if present else ():
            if not _placeholder(match.group(1)):
                found.append(_f(rule, RiskLevel.HIGH, line_of(match.start()), message, language))
    for fmt in _FORMATS if _ANY_MARKER.search(code) else ():
        if any(marker in code for marker in fmt.markers):
            for match in fmt.regex.finditer(code):
                found.append(
                    _f(fmt.rule, fmt.severity, line_of(match.start()), fmt.message, language)
                )
    return found
