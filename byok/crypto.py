"""Encryption at rest: a keyring of Fernet keys from BYOK_ENCRYPTION_KEYS, and the field that stores ciphertext.

The first key encrypts; every key decrypts (cryptography's MultiFernet). Each stored value is
`<key id>:<Fernet token>`, so `check_encryption` can count rows per key and `rotate_encryption_key` knows
which rows still need re-encrypting. The key id is a short hash of the key, never the key.
"""

import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver


class DecryptionError(Exception):
    """A stored secret cannot be read with the configured keys. The message names the key id, never a secret."""


KEY_ID_LENGTH = 8


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:KEY_ID_LENGTH]


class Keyring:
    def __init__(self, keys: list[str]):
        if not keys:
            raise ImproperlyConfigured(
                "BYOK_ENCRYPTION_KEYS is empty: set it to one or more comma-separated Fernet keys "
                "(generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
            )
        fernets = {}
        for position, key in enumerate(keys, start=1):
            try:
                fernets[key_id(key)] = Fernet(key.encode())
            except (ValueError, TypeError) as exc:
                raise ImproperlyConfigured(
                    f"BYOK_ENCRYPTION_KEYS: key #{position} is not a valid Fernet key (32 url-safe base64-encoded bytes)."
                ) from exc
        self._fernets = fernets
        self.primary_id = next(iter(fernets))
        self._primary = fernets[self.primary_id]
        self._all = MultiFernet(list(fernets.values()))

    @property
    def key_ids(self) -> list[str]:
        return list(self._fernets)

    def encrypt(self, plaintext: bytes) -> str:
        return f"{self.primary_id}:{self._primary.encrypt(plaintext).decode()}"

    def decrypt(self, stored: str) -> bytes:
        written_by, separator, token = stored.partition(":")
        if not separator:
            raise DecryptionError("This value is not keyring ciphertext (<key id>:<token>): it was not written by byok.")
        fernet = self._fernets.get(written_by, self._all)
        try:
            return fernet.decrypt(token.encode())
        except InvalidToken:
            if written_by not in self._fernets:
                raise DecryptionError(
                    f"This secret was encrypted with key id {written_by}, which is not in BYOK_ENCRYPTION_KEYS; "
                    "add that key back (after the first) and run rotate_encryption_key."
                ) from None
            raise DecryptionError(
                f"This secret is corrupt: key id {written_by} is configured but cannot decrypt it."
            ) from None

    def needs_rotation(self, stored: str) -> bool:
        return stored_key_id(stored) != self.primary_id

    def rotate(self, stored: str) -> str:
        """The same plaintext under the primary key."""
        return self.encrypt(self.decrypt(stored)) if self.needs_rotation(stored) else stored

    def encrypt_json(self, value: dict) -> str:
        return self.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def decrypt_json(self, stored: str) -> dict:
        return json.loads(self.decrypt(stored))


def stored_key_id(stored: str) -> str:
    return stored.partition(":")[0]


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    return Keyring(settings.BYOK_ENCRYPTION_KEYS)


@receiver(setting_changed)
def _reset_keyring(setting, **kwargs):
    if setting == "BYOK_ENCRYPTION_KEYS":
        keyring.cache_clear()


class EncryptedField(models.TextField):
    """Holds ciphertext written by the keyring (the attribute is the ciphertext; models decrypt on demand).

    Any lookup or ordering on it would compare ciphertexts and silently match nothing, so it raises instead.
    """

    description = "Encrypted text (keyring ciphertext)"

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(f"{self.model.__name__}.{self.name} is encrypted: it cannot be filtered on ({lookup_name}).")

    def get_transform(self, lookup_name):
        raise FieldError(f"{self.model.__name__}.{self.name} is encrypted: it cannot be filtered on ({lookup_name}).")


class EncryptedFieldsQuerySet(models.QuerySet):
    """Refuses ordering by an encrypted field (ciphertext order means nothing)."""

    def order_by(self, *field_names):
        encrypted = {f.name for f in self.model._meta.get_fields() if isinstance(f, EncryptedField)}
        for name in field_names:
            if isinstance(name, str) and name.lstrip("-?").split("__")[0] in encrypted:
                raise FieldError(f"{self.model.__name__}.{name.lstrip('-')} is encrypted: it cannot be ordered by.")
        return super().order_by(*field_names)


def encrypted_models() -> list[tuple[type[models.Model], list[str]]]:
    """Every model with encrypted fields, and those fields' names (for rotation and checks)."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if names:
            found.append((model, names))
    return found
