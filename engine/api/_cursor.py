"""Opaque page cursors.

A cursor is base64url (unpadded) of compact JSON ``{"after": <last id>, "snapshot": <ISO time of
the first page's request>, "q": <hash of model, integration and filters>}``. Keyset paging by id
plus the snapshot (rows first created later stay hidden) gives a client paging while a sync
writes every record that existed at its start exactly once. A cursor that does not decode,
has the wrong shape, or was issued for other filters is ``InputInvalid``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ._errors import InputInvalid

__all__ = ["Cursor", "encode_cursor", "decode_cursor", "filters_hash"]

_ID = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{1,64}$")
_MAX_LEN = 1024


@dataclass(frozen=True)
class Cursor:
    """A decoded cursor."""

    after: str
    snapshot: datetime
    q: str


def filters_hash(parts: dict[str, Any]) -> str:
    """A short stable hash of the request's filters (canonical JSON, SHA-256, 16 hex chars)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(cursor: Cursor) -> str:
    """The opaque string form of *cursor*."""
    payload = {"after": cursor.after, "snapshot": cursor.snapshot.isoformat(), "q": cursor.q}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad() -> InputInvalid:
    return InputInvalid("The cursor is invalid. Use the 'next' value of the previous page unchanged.")


def decode_cursor(token: str, expected_q: str, now: datetime) -> Cursor:
    """Decode and check *token*; it must have been issued for the same filters (*expected_q*)."""
    if not token or len(token) > _MAX_LEN:
        raise _bad()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _bad() from None
    if not isinstance(data, dict) or set(data) != {"after", "snapshot", "q"}:
        raise _bad()
    after, snapshot, q = data["after"], data["snapshot"], data["q"]
    if not all(isinstance(v, str) for v in (after, snapshot, q)) or not _ID.match(after):
        raise _bad()
    try:
        snap = datetime.fromisoformat(snapshot)
        if snap.tzinfo is None or snap > now:
            raise _bad()
        snap = snap.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # 0001-01-01T00:00:00+14:00 is before datetime.min in UTC
        raise _bad() from None
    if q != expected_q:
        raise InputInvalid("The cursor was issued for different filters; repeat the first request's filters.")
    return Cursor(after, snap, q)
