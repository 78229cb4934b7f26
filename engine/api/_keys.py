"""API keys: ``lms_<key_id>_<secret>``; the store keeps only SHA-256 hex of the whole key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timezone

from engine.ids import random_id
from engine.store.base import ApiKey, Store

__all__ = ["KEY_PREFIX", "create_api_key", "hash_key", "parse_key", "verify_key"]

KEY_PREFIX = "lms_"


def hash_key(plaintext: str) -> str:
    """SHA-256 hex digest of the whole plaintext key."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_key(plaintext: str) -> str | None:
    """The ``key_id`` part of a well-formed key, else ``None``."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = plaintext[len(KEY_PREFIX):].partition("_")
    return key_id if sep and key_id and secret else None


def verify_key(store: Store, plaintext: str) -> ApiKey | None:
    """The stored key matching *plaintext*, or ``None`` (constant-time hash comparison).
    Expiry is not checked here: see ``ApiKey.expired``."""
    key_id = parse_key(plaintext)
    if key_id is None:
        return None
    key = store.get_api_key(key_id)
    if key is None:
        return None
    return key if hmac.compare_digest(key.key_hash, hash_key(plaintext)) else None


def create_api_key(store: Store, name: str, integration_ids: Sequence[str] | None = None,
                   expires_at: datetime | None = None) -> str:
    """Create and store a key; return the plaintext (shown once, never stored).

    ``integration_ids=None`` makes a key that may access every integration (an admin key);
    ``expires_at=None`` one that never expires.
    """
    key_id = random_id()
    plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    ids = list(integration_ids) if integration_ids is not None else None
    store.add_api_key(ApiKey(key_id, hash_key(plaintext), name, ids, datetime.now(timezone.utc), expires_at))
    return plaintext
