"""Encryption of integration credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``$LMSYNC_SECRET_KEY`` (a urlsafe-base64 Fernet key); otherwise from
``<data dir>/secret.key``, which is generated on first use with mode 0600. Several processes
sharing one PostgreSQL database must share the key, so set the environment variable there.

Errors: ``SecretError`` (a wrong key or a corrupted token); it never includes plaintext.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import os
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from engine import config
from engine.errors import ConfigError

__all__ = [
    "REDACTED", "SecretBox", "SecretError", "SecretLogFilter", "SecretRegistry", "default_box", "generate_key",
    "live_secrets", "load_key", "redact_text", "redact_value", "secret_pattern", "secret_variants",
]

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


# --- Redaction of secrets in every encoding they may travel in ------------------------------

REDACTED = "[REDACTED]"
_PCT = re.compile(r"%[0-9A-F]{2}")


def _hex_lower(text: str) -> str:
    return _PCT.sub(lambda m: m.group(0).lower(), text)


def secret_variants(secret: str) -> set[str]:
    """*secret* as it may appear once encoded: raw, percent-encoded (``quote(safe='')`` and
    ``quote_plus``, upper- and lowercase hex), JSON-escaped (ASCII and not) and HTML-escaped."""
    if not secret:
        return set()
    quoted = {urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    out = {secret, *quoted, *(_hex_lower(q) for q in quoted),
           json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
           html.escape(secret), html.escape(secret, quote=False)}
    return {v for v in out if v}


@functools.lru_cache(maxsize=512)
def _compiled(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    variants = {v for s in secrets for v in secret_variants(s)}
    if not variants:
        return None
    return re.compile("|".join(re.escape(v) for v in sorted(variants, key=lambda v: (-len(v), v))))


def secret_pattern(secrets: Iterable[Any]) -> re.Pattern[str] | None:
    """One compiled regex matching every variant of every secret, longest first (cached by the
    set of secrets); ``None`` when there is nothing to hide. Non-string and empty values are skipped."""
    return _compiled(tuple(sorted({s for s in secrets if isinstance(s, str) and s})))


def redact_text(text: str, pattern: re.Pattern[str] | None) -> str:
    """*text* with every match of *pattern* (from ``secret_pattern``) replaced by ``[REDACTED]``."""
    return pattern.sub(REDACTED, text) if pattern is not None else text


def redact_value(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """A decoded JSON value with every secret variant replaced inside strings and keys, at any depth."""
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, dict):
        return {redact_value(k, pattern) if isinstance(k, str) else k: redact_value(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, pattern) for v in value]
    return value


class SecretRegistry:
    """The secrets of the live transports of this process (each registration counted, so two
    transports of one integration can close independently)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, secrets: Iterable[Any]) -> tuple[str, ...]:
        """Register *secrets*; returns the registered ones (pass them to ``discard``)."""
        kept = tuple({s for s in secrets if isinstance(s, str) and s})
        with self._lock:
            self._counts.update(kept)
        return kept

    def discard(self, secrets: Iterable[str]) -> None:
        """Undo one ``add`` of *secrets*."""
        with self._lock:
            self._counts.subtract(secrets)
            for s in [s for s, n in self._counts.items() if n <= 0]:
                del self._counts[s]

    def pattern(self) -> re.Pattern[str] | None:
        """The compiled pattern of every registered secret."""
        with self._lock:
            current = list(self._counts)
        return secret_pattern(current)


live_secrets = SecretRegistry()


class SecretLogFilter(logging.Filter):
    """Redacts the secrets of *registry* from a log record: the message is formatted with its
    args, redacted, and stored with ``args=()``. Never drops a record."""

    def __init__(self, registry: SecretRegistry = live_secrets) -> None:
        super().__init__()
        self.registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        pattern = self.registry.pattern()
        if pattern is None:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} {record.args}"
        cleaned = pattern.sub(REDACTED, message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        return True
