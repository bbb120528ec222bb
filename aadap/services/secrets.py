"""Connection secrets: encrypted at rest with Fernet, or held by reference and resolved at use time.

* **Encrypted.** ``AADAP_SECRET_KEY`` holds one or more Fernet keys, comma-separated,
  newest first. :class:`Keyring` encrypts with the newest key and decrypts with any
  of them (``MultiFernet``), so keys rotate without downtime: put the new key in front,
  run ``aadap connections rekey`` (every ciphertext is re-encrypted with the newest
  key), then drop the old key.
* **By reference.** ``env:NAME`` reads an environment variable and
  ``prefect-secret:BLOCK`` a Prefect Secret block, both when the secret is used.
  Only :mod:`aadap.orchestration` may import Prefect, so the block lookup is an
  injected :data:`BlockResolver` (``aadap.orchestration.secret_blocks.load_secret``).

A secret never leaves in clear: it travels as a ``SecretStr``, is decrypted only in
memory, and what is shown anywhere is :func:`hint` (at most the last four
characters). Errors name the key *variable* and the connection, never a key or a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import SecretStr

from aadap.core.config import Settings, mask_secret
from aadap.core.exceptions import (
    InvalidConfigurationError,
    InvalidRequestError,
    MissingConfigurationError,
    SecretDecryptionError,
)

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

KEY_VARIABLE = "AADAP_SECRET_KEY"
GENERATE_HINT = (
    'generate a key with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)

BlockResolver = Callable[[str], Awaitable[SecretStr]]
"""Returns the value of the Prefect Secret block with this name; raises taxonomy errors."""

RefKind = Literal["env", "prefect-secret"]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
REF_FORMS = "env:VARIABLE_NAME or prefect-secret:block-name (lowercase letters, digits, dashes)"


def hint(secret: SecretStr | str) -> str:
    """What may be shown of a secret: ``****`` and, for long enough secrets, its last four characters."""
    return mask_secret(secret) or "****"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret held by reference lives (the reference itself is not secret)."""

    kind: RefKind
    name: str

    @classmethod
    def parse(cls, text: str, *, field: str = "secret_ref") -> SecretRef:
        """``env:NAME`` or ``prefect-secret:BLOCK``, or ``InvalidRequestError`` naming ``field``."""
        kind, sep, name = text.strip().partition(":")
        if sep and kind == "env" and _ENV_NAME.match(name):
            return cls("env", name)
        if sep and kind == "prefect-secret" and _BLOCK_NAME.match(name):
            return cls("prefect-secret", name)
        raise InvalidRequestError(
            f"{field}={text!r} is not a secret reference; allowed: {REF_FORMS}",
            details={"field": field, "value": text, "allowed": REF_FORMS},
        )

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    async def resolve(
        self,
        *,
        blocks: BlockResolver | None,
        environ: Mapping[str, str] | None = None,
        what: str = "a secret",
    ) -> SecretStr:
        """The referenced value, read now; ``MissingConfigurationError`` when it is not there."""
        if self.kind == "env":
            value = (os.environ if environ is None else environ).get(self.name)
            if not value:
                raise MissingConfigurationError(
                    f"{what} refers to environment variable {self.name}, which is not set or empty",
                    details={"field": "secret_ref", "value": str(self)},
                )
            return SecretStr(value)
        if blocks is None:
            raise MissingConfigurationError(
                f"{what} refers to Prefect Secret block {self.name!r}, which can only be read "
                "through the orchestration layer (no block resolver was given)",
                details={"field": "secret_ref", "value": str(self)},
            )
        return await blocks(self.name)


class Keyring:
    """The Fernet keys of ``AADAP_SECRET_KEY``, newest first. Holds no key material in its repr."""

    def __init__(self, keys: list[SecretStr]) -> None:
        self._count = len(keys)
        self._multi: MultiFernet | None = None
        if not keys:
            return
        from cryptography.fernet import Fernet, MultiFernet  # ~0.05 s: only when a key is set

        fernets: list[Fernet] = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.get_secret_value().encode("ascii")))
            except (ValueError, UnicodeEncodeError) as exc:
                raise InvalidConfigurationError(
                    f"{KEY_VARIABLE} entry #{position} of {len(keys)} is not a Fernet key "
                    f"(32 url-safe base64-encoded bytes); {GENERATE_HINT}",
                    details={"field": KEY_VARIABLE, "position": position},
                ) from exc
        self._multi = MultiFernet(fernets)

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        raw = settings.secret_key.get_secret_value() if settings.secret_key else ""
        return cls([SecretStr(part.strip()) for part in raw.split(",") if part.strip()])

    def __repr__(self) -> str:
        return f"Keyring(keys={self._count})"

    @property
    def configured(self) -> bool:
        return self._multi is not None

    def require(self, why: str) -> MultiFernet:
        """The keys, or ``MissingConfigurationError`` saying ``why`` one is needed."""
        if self._multi is None:
            raise MissingConfigurationError(
                f"{KEY_VARIABLE} is not set, but {why}; set it to a Fernet key "
                f"(comma-separated, newest first, to rotate) or store the secret by reference "
                f"({REF_FORMS}); {GENERATE_HINT}",
                details={"field": KEY_VARIABLE},
            )
        return self._multi

    def encrypt(self, secret: SecretStr, *, what: str = "a secret") -> str:
        """Ciphertext of ``secret`` under the newest key (``MissingConfigurationError`` without keys)."""
        multi = self.require(f"{what} must be stored encrypted")
        return multi.encrypt(secret.get_secret_value().encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str, *, what: str = "a secret") -> SecretStr:
        """The clear secret, in memory only; ``SecretDecryptionError`` if no key opens it."""
        from cryptography.fernet import InvalidToken

        multi = self.require(f"{what} is stored encrypted")
        try:
            return SecretStr(multi.decrypt(ciphertext.encode("ascii")).decode("utf-8"))
        except (InvalidToken, UnicodeError) as exc:
            raise self._wrong_key(what) from exc

    def rotate(self, ciphertext: str, *, what: str = "a secret") -> str:
        """``ciphertext`` re-encrypted under the newest key (``SecretDecryptionError`` if unreadable)."""
        from cryptography.fernet import InvalidToken

        multi = self.require(f"{what} must be re-encrypted")
        try:
            return multi.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise self._wrong_key(what) from exc

    def _wrong_key(self, what: str) -> SecretDecryptionError:
        return SecretDecryptionError(
            f"{what} cannot be decrypted with the {self._count} key(s) in {KEY_VARIABLE}: it was "
            "encrypted with a key that is not configured (keep the old key after the new one, "
            "comma-separated, until `aadap connections rekey` has run); the stored ciphertext "
            "was left unchanged",
            details={"field": KEY_VARIABLE, "keys_configured": self._count},
        )


__all__ = [
    "GENERATE_HINT",
    "KEY_VARIABLE",
    "REF_FORMS",
    "BlockResolver",
    "Keyring",
    "SecretRef",
    "hint",
]
