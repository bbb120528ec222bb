"""Exfiltration: a snippet that both reads a secret-bearing file and reaches the network.

Each half is a HIGH finding of its own (``python.egress``/``sql.remote_access`` and
``python.sensitive_file``/``sql.sensitive_file``); together, in one snippet and in any
of its languages (a ``%sql`` cell reading ``/etc/passwd`` and a ``requests.post`` in
the next cell), they are ``egress.exfiltration``: CRITICAL, so forbidden in PRODUCTION.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aadap.core.enums import Language, OperationClass, RiskLevel
from aadap.safety.findings import Finding

# System and credential files. A home directory as such is not sensitive (data may live
# there, /root included); its credential dot-files are.
_DOTFILES = (
    r"\.(?:ssh|aws|azure|kube|gnupg|docker|config/gcloud|databrickscfg|netrc|pgpass"
    r"|git-credentials|bash_history|pypirc|npmrc)"
)
_SENSITIVE = re.compile(
    r"(?<![\w.-])/(?:etc|boot)/"
    r"|(?<![\w.-])/proc/(?:self|\d+)/"
    r"|(?<![\w.-])/(?:var/)?run/secrets"
    r"|(?<![\w.-])/var/lib/(?:databricks|jupyter)"
    rf"|(?:~[\w-]*|/root|/home/[\w.-]+|/Users/[\w.-]+)/?{_DOTFILES}"
    r"|/\.(?:ssh|aws|azure|kube|gnupg)/|\.databrickscfg|\.git-credentials|\.pgpass\b|\.netrc\b"
    r"|\bid_(?:rsa|dsa|ecdsa|ed25519)\b"
    r"|\.(?:pem|pfx|p12|jks|keystore|ppk)\b"
    r"|(?<![\w-])\.env\b|\baadap\.db\b"  # AADAP's own settings and database
    r"|(?:/dbfs|dbfs:)/\S*?(?:secret|token|credential|password|[._/-]keys?\b|\.key\b)",
    re.IGNORECASE,
)


def sensitive_path(text: str) -> bool:
    """``text`` names a secret-bearing or system file (``/etc/passwd``, ``~/.ssh/id_rsa``...)."""
    return _SENSITIVE.search(text) is not None


EGRESS_RULES = frozenset({"python.egress", "sql.remote_access", "scala.egress"})
SENSITIVE_RULES = frozenset(
    {"python.sensitive_file", "sql.sensitive_file", "scala.sensitive_file"}
    | {"python.environment_dump"}
)


def exfiltration(findings: Sequence[Finding], language: Language | None) -> list[Finding]:
    """One CRITICAL ``egress.exfiltration`` when both halves are present, else nothing."""
    sent = next((f for f in findings if f.rule in EGRESS_RULES), None)
    read = next((f for f in findings if f.rule in SENSITIVE_RULES), None)
    if sent is None or read is None:
        return []
    where = f" (line {read.line} reads, line {sent.line} sends)" if read.line and sent.line else ""
    msg = f"the code reads a secret-bearing file and sends data over the network{where}"
    hint = "Remove the network call or the file read; exfiltration is never approved by default."
    return [
        Finding(
            "egress.exfiltration",
            RiskLevel.CRITICAL,
            sent.line,
            msg,
            hint,
            OperationClass.DESTRUCTIVE,
            language,
        )
    ]
