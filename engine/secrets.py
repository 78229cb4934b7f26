"""Encryption of integration credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``$LMSYNC_SECRET_KEY`` (a urlsafe-base64 Fernet key); otherwise from
``<data dir>/secret.key``, which is generated on first use with mode 0600. Several processes
sharing one PostgreSQL database must share the key, so set the environment variable there.

Errors: ``SecretError`` (a wrong key or a corrupted token); it never includes plaintext.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from engine import config
from engine.errors import ConfigError

__all__ = ["SecretBox", "SecretError", "default_box", "generate_key", "load_key"]

_KEY_ENV = "LMSYNC_SECRET_KEY"
_KEY_FILE = "secret.key"


class SecretError(Exception):
    """A secret could not be decrypted (wrong key or corrupted data)."""


def generate_key() -> str:
    """A fresh Fernet key (urlsafe base64 text)."""
    return Fernet.generate_key().decode()


def _read_or_create_key_file(path: Path) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = generate_key()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def load_key() -> str:
    """The configured key: ``$LMSYNC_SECRET_KEY``, else the key file (created if missing)."""
    key = os.environ.get(_KEY_ENV)
    if key:
        return key.strip()
    return _read_or_create_key_file(config.data_dir() / _KEY_FILE)


def _key_source() -> str:
    return f"${_KEY_ENV}" if os.environ.get(_KEY_ENV) else str(config.data_dir() / _KEY_FILE)


class SecretBox:
    """Encrypts and decrypts small JSON values with one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key.encode() if isinstance(key, str) else key)
        except (ValueError, TypeError):
            raise ConfigError("the secret key is not a valid Fernet key (32 url-safe base64-encoded bytes)") from None

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def encrypt_json(self, value: Any) -> str:
        """Encrypt a JSON-serialisable value; returns the Fernet token as text."""
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def decrypt_json(self, token: str) -> Any:
        """Decrypt a token made by ``encrypt_json``; raises ``SecretError`` on failure."""
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            raise SecretError("cannot decrypt stored secret (wrong LMSYNC_SECRET_KEY?)") from None


_default_lock = threading.Lock()
_boxes: dict[tuple[str | None, str], SecretBox] = {}


def default_box() -> SecretBox:
    """The ``SecretBox`` of the current ``LMSYNC_SECRET_KEY`` / data directory (each key is
    loaded once; a process that switches ``LMSYNC_HOME`` gets that home's key)."""
    where = (os.environ.get(_KEY_ENV), str(config.data_dir()))
    with _default_lock:
        if where not in _boxes:
            try:
                _boxes[where] = SecretBox(load_key())
            except (ConfigError, OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{_key_source()}: cannot load the secret key: {exc}") from None
        return _boxes[where]
