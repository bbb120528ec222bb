"""Masking for what is printed: a password in a URL, a secret but its last characters."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr


def mask_url(url: str) -> str:
    """Replace a password in a URL with ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mask_secret(secret: SecretStr | str | None, *, keep: int = 4) -> str | None:
    """``None`` stays ``None``; otherwise at most the last ``keep`` characters are shown."""
    if secret is None:
        return None
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if len(raw) <= keep * 2:
        return "****"
    return "****" + raw[-keep:]


__all__ = ["mask_secret", "mask_url"]
