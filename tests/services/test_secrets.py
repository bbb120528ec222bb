"""Fernet keyrings (rotation, wrong and missing keys) and secret references."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from aadap.core.config import Settings
from aadap.core.exceptions import (
    InvalidConfigurationError,
    InvalidRequestError,
    MissingConfigurationError,
    SecretDecryptionError,
)
from aadap.services.secrets import Keyring, SecretRef, hint

SECRET = SecretStr("dapi-0123456789-the-clear-secret")


def _key() -> str:
    return Fernet.generate_key().decode()


def _ring(value: str | None) -> Keyring:
    return Keyring.from_settings(Settings(secret_key=None if value is None else SecretStr(value)))


def test_encrypts_with_the_newest_key_and_decrypts_with_any() -> None:
    a, b = _key(), _key()
    token = _ring(a).encrypt(SECRET)
    assert SECRET.get_secret_value() not in token
    assert _ring(f"{b}, {a}").decrypt(token).get_secret_value() == SECRET.get_secret_value()
    newer = _ring(f"{b},{a}").encrypt(SECRET)
    assert _ring(b).decrypt(newer).get_secret_value() == SECRET.get_secret_value()
    with pytest.raises(SecretDecryptionError):
        _ring(a).decrypt(newer)


def test_rotate_moves_a_ciphertext_to_the_newest_key() -> None:
    a, b = _key(), _key()
    old = _ring(a).encrypt(SECRET)
    rotated = _ring(f"{b},{a}").rotate(old)
    assert rotated != old
    assert _ring(b).decrypt(rotated).get_secret_value() == SECRET.get_secret_value()
    with pytest.raises(SecretDecryptionError):
        _ring(a).decrypt(rotated)


def test_a_wrong_key_names_the_variable_never_the_key() -> None:
    token = _ring(_key()).encrypt(SECRET)
    wrong = _key()
    with pytest.raises(SecretDecryptionError) as info:
        _ring(wrong).decrypt(token, what="the secret of connection 'dbx'")
    message = str(info.value)
    assert "AADAP_SECRET_KEY" in message and "'dbx'" in message
    assert wrong not in message and wrong[-8:] not in message
    assert info.value.details == {"field": "AADAP_SECRET_KEY", "keys_configured": 1}
    with pytest.raises(SecretDecryptionError):
        _ring(wrong).rotate(token)
    with pytest.raises(SecretDecryptionError):
        _ring(wrong).decrypt("not a fernet token")


@pytest.mark.parametrize("value", [None, "", " , "])
def test_no_key_means_nothing_can_be_stored_encrypted(value: str | None) -> None:
    ring = _ring(value)
    assert not ring.configured
    with pytest.raises(MissingConfigurationError, match="AADAP_SECRET_KEY is not set"):
        ring.encrypt(SECRET)
    with pytest.raises(MissingConfigurationError):
        ring.decrypt("gAAAA")


def test_a_malformed_key_is_a_configuration_error_without_the_key() -> None:
    good = _key()
    with pytest.raises(InvalidConfigurationError, match="entry #2 of 2") as info:
        _ring(f"{good},not-a-key-but-secret-ish")
    assert "not-a-key" not in str(info.value) and good not in str(info.value)
    assert repr(_ring(good)) == "Keyring(keys=1)"


def test_hint_shows_at_most_four_characters() -> None:
    assert hint(SECRET) == "****cret"
    assert hint("short") == "****"
    assert hint(SecretStr("")) == "****"


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("env:DATABRICKS_TOKEN", "env", "DATABRICKS_TOKEN"),
        (" prefect-secret:fabric-sp ", "prefect-secret", "fabric-sp"),
    ],
)
def test_references_parse(text: str, kind: str, name: str) -> None:
    ref = SecretRef.parse(text)
    assert (ref.kind, ref.name) == (kind, name)
    assert str(ref) == text.strip()


@pytest.mark.parametrize(
    "text", ["", "DATABRICKS_TOKEN", "env:", "env:1BAD", "vault:x", "prefect-secret:Upper_Case"]
)
def test_bad_references_name_the_field_and_the_allowed_forms(text: str) -> None:
    with pytest.raises(InvalidRequestError, match="allowed: env:VARIABLE_NAME") as info:
        SecretRef.parse(text)
    assert info.value.details["field"] == "secret_ref"


async def test_env_reference_resolves_at_use_time() -> None:
    ref = SecretRef.parse("env:AADAP_TEST_TOKEN")
    value = await ref.resolve(blocks=None, environ={"AADAP_TEST_TOKEN": "tok-1"})
    assert value.get_secret_value() == "tok-1"
    with pytest.raises(MissingConfigurationError, match="AADAP_TEST_TOKEN"):
        await ref.resolve(blocks=None, environ={})
    with pytest.raises(MissingConfigurationError):
        await ref.resolve(blocks=None, environ={"AADAP_TEST_TOKEN": ""})


async def test_block_reference_needs_the_injected_resolver() -> None:
    ref = SecretRef.parse("prefect-secret:fabric-sp")
    with pytest.raises(MissingConfigurationError, match="orchestration layer"):
        await ref.resolve(blocks=None)
    asked: list[str] = []

    async def blocks(name: str) -> SecretStr:
        asked.append(name)
        return SecretStr("from-the-block")

    assert (await ref.resolve(blocks=blocks)).get_secret_value() == "from-the-block"
    assert asked == ["fabric-sp"]
